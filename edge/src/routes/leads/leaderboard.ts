import { COLLECTIONS, LEADERBOARD_SORT, type LeadDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { intParam, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LEAD_PROJECTION, LeadSchema, toLead } from "./lead.ts";

export const MAX_LEADERBOARD_SIZE = 100;

export const LeaderboardQuerySchema = z.strictObject({
  limit: intParam(1, MAX_LEADERBOARD_SIZE).default(10).describe("How many leads."),
});

export const leaderboardDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/leaderboard",
  operationId: "getLeaderboard",
  summary: "Top leads by score",
  description: "Highest `current_score` first; ties go to the lead that reached the score first, then by `_id`.",
  tag: "Leads",
  auth: "read",
  query: LeaderboardQuerySchema,
  responses: { 200: { description: "The top leads, best first.", schema: z.array(LeadSchema) } },
};

export function leaderboardRoute(deps: AppDeps) {
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  return new Hono().get("/leaderboard", async (c) => {
    const { limit } = parseQuery(c, LeaderboardQuerySchema);
    const docs = await leads.find({}, { projection: LEAD_PROJECTION }).sort(LEADERBOARD_SORT).limit(limit).toArray();
    return c.json(docs.map((doc) => toLead(doc, deps.config.STAGE_THRESHOLDS)));
  });
}
