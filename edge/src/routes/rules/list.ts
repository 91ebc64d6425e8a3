import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { readRulesVersion } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { RULES_VERSION_HEADER, RuleOutputSchema, toRule } from "./rule.ts";

export const listRulesDoc: RouteDoc = {
  method: "get",
  path: "/api/rules",
  operationId: "listRules",
  summary: "List scoring rules",
  description:
    "Every rule of the current version, active or not, by event type (then id); `X-Rules-Version` is its version " +
    "(0: no rule write since the rules were seeded).",
  tag: "Rules",
  auth: "read",
  responses: {
    200: {
      description: "All rules.",
      schema: z.array(RuleOutputSchema),
      headers: { [RULES_VERSION_HEADER]: "The version of the rule set listed." },
    },
  },
};

export function listRulesRoute(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono().get("/", async (c) => {
    parseQuery(c, NoQuerySchema);
    const [docs, version] = await Promise.all([
      rules.find({}).sort({ event_type: 1, _id: 1 }).toArray(),
      readRulesVersion(deps.db),
    ]);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(docs.map(toRule));
  });
}
