import { PAGE_SIZE, SERIES_PAGE_POINTS, scoreSeries, TAIL_SPILL_AT } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema } from "./lead.ts";

/** The tail holds fewer than TAIL_SPILL_AT entries; at most SERIES_PAGE_POINTS page ends are kept, and the first entry. */
const MAX_POINTS = SERIES_PAGE_POINTS + TAIL_SPILL_AT;

/** One point of a lead's score over time. */
export const ScorePointSchema = z
  .object({
    timestamp: z.iso.datetime().describe("Event time."),
    score: z.number().int().describe("The lead's score after its event at that time."),
  })
  .meta({ id: "ScorePoint" });

/** A lead's score over its whole history, compact enough to chart. */
export const ScoreSeriesSchema = z
  .object({
    points: z
      .array(ScorePointSchema)
      .max(MAX_POINTS)
      .describe(`Oldest first; the last point is the lead's current score. At most ${MAX_POINTS}.`),
  })
  .meta({ id: "ScoreSeries" });
export type ScoreSeries = z.infer<typeof ScoreSeriesSchema>;

export const seriesDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/series",
  operationId: "getLeadScoreSeries",
  summary: "A lead's score over time, for a chart",
  description:
    "The lead's score over its whole history in event-time order, from its live state in Redis alone (one hash " +
    `read; no MongoDB): the score after each of its newest events (every event up to ${TAIL_SPILL_AT - 1}, then ` +
    `the newest ${PAGE_SIZE} to ${TAIL_SPILL_AT - 1}), preceded by its first event and the score at the end of its older history pages ` +
    `(${PAGE_SIZE} events each) — every page up to ${SERIES_PAGE_POINTS - 1}, then every 2nd, 4th, … page and the ` +
    `newest, at most ${SERIES_PAGE_POINTS} — so at most ${MAX_POINTS} points whatever the lead's size. Older ` +
    "events are thus sampled, not each shown: a peak inside a page does not appear. A lead without scored events " +
    "has no points.",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  responses: { 200: { description: "The lead's score series.", schema: ScoreSeriesSchema } },
  errors: ["NOT_FOUND"],
};

export function seriesRoute(deps: AppDeps) {
  return new Hono().get("/:id/series", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const lead = await deps.live.leadWithTail(id);
    if (lead === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    const points = scoreSeries(lead).map(([timestamp, score]) => ({
      timestamp: new Date(timestamp).toISOString(),
      score,
    }));
    return c.json({ points } satisfies ScoreSeries);
  });
}
