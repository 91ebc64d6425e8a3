import { bucketSpans, historySpans, MAX_SERIES_BUCKETS } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { intParam, parseParams, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema } from "./lead.ts";
import { readResolved } from "./resolved.ts";

/** Buckets a chart asks for unless it says: one per unit of the dashboard chart's width. */
export const DEFAULT_SERIES_BUCKETS = 600;

export const SeriesQuerySchema = z.strictObject({
  buckets: intParam(1, MAX_SERIES_BUCKETS)
    .default(DEFAULT_SERIES_BUCKETS)
    .describe("Equal parts of the time from the first event to the newest: the chart's width in pixels."),
});

/** What the score did over a run of consecutive history entries. */
export const ScoreSpanSchema = z
  .object({
    from: z.iso.datetime().describe("Event time of its first entry."),
    to: z.iso.datetime().describe("Event time of its last entry."),
    first: z.number().int().describe("Score after its first entry."),
    last: z.number().int().describe("Score after its last entry."),
    min: z.number().int().describe("Lowest score after any of its entries."),
    max: z.number().int().describe("Highest score after any of its entries."),
    entries: z.number().int().describe("History entries in it."),
  })
  .meta({ id: "ScoreSpan" });

/** A lead's score over its whole history, bucketed for a chart. */
export const ScoreSeriesSchema = z
  .object({
    buckets: z.number().int().describe("The buckets asked for."),
    spans: z
      .array(ScoreSpanSchema)
      .describe(
        "Oldest first, together every entry of the lead's history once; the last one's `last` is its current score.",
      ),
    thresholds: z
      .object({ warm: z.number().int(), hot: z.number().int(), qualified: z.number().int() })
      .describe("The scores where each stage starts (STAGE_THRESHOLDS), for lines across the chart."),
  })
  .meta({ id: "ScoreSeries" });
export type ScoreSeries = z.infer<typeof ScoreSeriesSchema>;

export const seriesDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/series",
  operationId: "getLeadScoreSeries",
  summary: "A lead's score over time, for a chart",
  description:
    "The lead's score over its whole history in event-time order, at the resolution of a chart `buckets` pixels " +
    "wide: the time from its first event to its newest is cut into `buckets` equal parts, and each span is a run of " +
    "consecutive entries within one part, with the first, last, lowest and highest score they reached — min/max " +
    "decimation, so every peak and dip shows, exactly. A history page (about 50 entries) wider than one part is one " +
    "span over its whole range, its lowest and highest exact over that range. From the live state in Redis alone " +
    "(one hash read: each page's ref carries its range and scores; no MongoDB), so at most `buckets` spans plus " +
    "one per such page. A lead without scored events has no spans. An id merged into another lead answers that " +
    "lead's series (`Content-Location` names its URL).",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  query: SeriesQuerySchema,
  responses: { 200: { description: "The lead's score series.", schema: ScoreSeriesSchema } },
  errors: ["NOT_FOUND"],
};

const iso = (ms: number) => new Date(ms).toISOString();

export function seriesRoute(deps: AppDeps) {
  const [warm, hot, qualified] = deps.config.STAGE_THRESHOLDS;
  return new Hono().get("/:id/series", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const { buckets } = parseQuery(c, SeriesQuerySchema);
    const { value: lead } = await readResolved(deps, c, id, (leadId) => deps.live.leadWithTail(leadId));
    const spans = bucketSpans(historySpans(lead), buckets).map((span) => ({
      ...span,
      from: iso(span.from),
      to: iso(span.to),
    }));
    return c.json({ buckets, spans, thresholds: { warm, hot, qualified } } satisfies ScoreSeries);
  });
}
