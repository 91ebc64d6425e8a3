import { STAGES } from "@leadscore/contracts";
import { ACTIVITY_BUCKET_MS, type ActivityKind, activityWindowKeys } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";

/** Width of a score histogram bucket, in points. */
export const HISTOGRAM_WIDTH = 100;

export const StatsSchema = z
  .object({
    leads: z.number().int().describe("Leads with a live state (scored, or given a profile)."),
    by_stage: z.object(
      Object.fromEntries(STAGES.map((stage) => [stage, z.number().int()])) as Record<
        (typeof STAGES)[number],
        z.ZodNumber
      >,
    ),
    score_histogram: z
      .array(z.object({ from: z.number().int(), to: z.number().int(), count: z.number().int() }))
      .describe(`Leads per score range of ${HISTOGRAM_WIDTH} points, both bounds included, up to the cap.`),
    events_24h: z
      .number()
      .int()
      .describe("Events the edges accepted (queued) in the last 24 hours, duplicates not included."),
    scored_24h: z
      .number()
      .int()
      .describe("Events the workers finished in the last 24 hours (their jobs completed; dead letters among them)."),
    dead_letters_24h: z
      .number()
      .int()
      .describe(
        "Events the store refused in the last 24 hours, kept as dead letters instead (`GET /api/dead-letters`).",
      ),
  })
  .meta({ id: "Stats" });
type Stats = z.infer<typeof StatsSchema>;

export const statsDoc: RouteDoc = {
  method: "get",
  path: "/api/stats",
  operationId: "getStats",
  summary: "Lead counts by stage and by score",
  description:
    "Counts from the live state's score index in Redis: one count per stage and per histogram bucket, each " +
    "logarithmic in the number of leads. The 24-hour figures are counters in Redis, one per " +
    `${ACTIVITY_BUCKET_MS / 60_000}-minute bucket, added to once per queued or finished job (or batch with dead ` +
    "letters) and read with one MGET each; " +
    "the window therefore spans 24 hours and up to one bucket more. No MongoDB read.",
  tag: "Leads",
  auth: "read",
  responses: { 200: { description: "The counts.", schema: StatsSchema } },
};

export function statsRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .get("/", async (c) => {
      const now = (deps.now ?? Date.now)();
      const lastDay = async (kind: ActivityKind) =>
        (await deps.redis.mget(activityWindowKeys(deps.config.REDIS_PREFIX, kind, now))).reduce(
          (sum, value) => sum + Number(value ?? 0),
          0,
        );
      const [leads, byStage, histogram, accepted, scored, deadLettered] = await Promise.all([
        deps.live.count(),
        // At one instant: with decay the funnel and the histogram count the same scores.
        deps.live.countByStage(now),
        deps.live.histogram(HISTOGRAM_WIDTH, now),
        lastDay("accepted"),
        lastDay("scored"),
        lastDay("dead_lettered"),
      ]);
      return c.json({
        leads,
        by_stage: byStage,
        score_histogram: histogram.map(({ min, max, count }) => ({ from: min, to: max, count })),
        events_24h: accepted,
        scored_24h: scored,
        dead_letters_24h: deadLettered,
      } satisfies Stats);
    });
}
