import { Hono } from "hono";
import { z } from "zod";
import { intParam, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadSchema, toLead } from "./lead.ts";

export const MAX_LEADERBOARD_SIZE = 100;

export const LeaderboardQuerySchema = z.strictObject({
  limit: intParam(1, MAX_LEADERBOARD_SIZE).default(10).describe("How many leads."),
});

export const leaderboardDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/leaderboard",
  operationId: "getLeaderboard",
  summary: "Top leads by score",
  description:
    "Highest `current_score` first; ties go to the lead that reached the score first, then by `_id`. " +
    "Read from the live state's score index in Redis: one range read plus the leads returned, whatever the number of leads.",
  tag: "Leads",
  auth: "read",
  query: LeaderboardQuerySchema,
  responses: { 200: { description: "The top leads, best first.", schema: z.array(LeadSchema) } },
};

export function leaderboardRoute(deps: AppDeps) {
  return new Hono().get("/leaderboard", async (c) => {
    const { limit } = parseQuery(c, LeaderboardQuerySchema);
    const top = await deps.live.leaderboard(limit);
    return c.json(top.map(toLead));
  });
}
