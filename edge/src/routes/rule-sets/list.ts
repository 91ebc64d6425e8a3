import { listRuleSetVersions } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { toSummary, VersionSummarySchema } from "./rule-set.ts";

export const listVersionsDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-sets",
  operationId: "listRuleSetVersions",
  summary: "List the rule set's versions",
  description:
    "Every stored version, newest first: who published it and when, how (a rules API write, a published draft, an " +
    "earlier version published again) and whether it is in force.",
  tag: "Rule sets",
  auth: "read",
  responses: { 200: { description: "The versions.", schema: z.array(VersionSummarySchema) } },
};

export function listVersionsRoute(deps: AppDeps) {
  return new Hono().get("/", async (c) => {
    parseQuery(c, NoQuerySchema);
    return c.json((await listRuleSetVersions(deps.db)).map(toSummary));
  });
}
