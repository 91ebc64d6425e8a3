import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema, type RankedLead, RankedLeadSchema, toLead } from "./lead.ts";

export const getLeadDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}",
  operationId: "getLead",
  summary: "Get one lead, with its rank",
  description:
    "The lead's live state and its leaderboard position (`rank` of `rank_of`), read from Redis: a hash read, a " +
    "rank and a count, whatever the number of leads.",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  responses: { 200: { description: "The lead.", schema: RankedLeadSchema } },
  errors: ["NOT_FOUND"],
};

export function getLeadRoute(deps: AppDeps) {
  return new Hono().get("/:id", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const [lead, { rank, of }] = await Promise.all([deps.live.lead(id), deps.live.rank(id)]);
    if (lead === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    return c.json({ ...toLead(lead), rank, rank_of: of } satisfies RankedLead);
  });
}
