import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { RuleOutputSchema, toRule } from "./rule.ts";

export const listRulesDoc: RouteDoc = {
  method: "get",
  path: "/api/rules",
  operationId: "listRules",
  summary: "List scoring rules",
  description: "Every stored rule, active or not, by event type.",
  tag: "Rules",
  auth: "read",
  responses: { 200: { description: "All rules.", schema: z.array(RuleOutputSchema) } },
};

export function listRulesRoute(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono().get("/", async (c) => {
    parseQuery(c, NoQuerySchema);
    const docs = await rules.find({}).sort({ event_type: 1 }).toArray();
    return c.json(docs.map(toRule));
  });
}
