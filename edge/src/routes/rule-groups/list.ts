import { COLLECTIONS, type RuleGroupDocument } from "@leadscore/contracts";
import { readRulesVersion } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { RULES_VERSION_HEADER } from "../rules/rule.ts";
import { RuleGroupOutputSchema, toGroup } from "./group.ts";

export const listGroupsDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-groups",
  operationId: "listRuleGroups",
  summary: "List rule groups",
  description: "Every group of the current version, by id; `X-Rules-Version` is its version.",
  tag: "Rules",
  auth: "read",
  responses: {
    200: {
      description: "All groups.",
      schema: z.array(RuleGroupOutputSchema),
      headers: { [RULES_VERSION_HEADER]: "The version of the rule set listed." },
    },
  },
};

export function listGroupsRoute(deps: AppDeps) {
  const groups = deps.db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups);
  return new Hono().get("/", async (c) => {
    parseQuery(c, NoQuerySchema);
    const [docs, version] = await Promise.all([groups.find({}).sort({ _id: 1 }).toArray(), readRulesVersion(deps.db)]);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(docs.map(toGroup));
  });
}
