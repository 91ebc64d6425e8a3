import { STAGES } from "@leadscore/contracts";
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
      .array(z.object({ min: z.number().int(), max: z.number().int(), count: z.number().int() }))
      .describe(`Leads per score range of ${HISTOGRAM_WIDTH} points, both bounds included, up to the cap.`),
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
    "logarithmic in the number of leads.",
  tag: "Leads",
  auth: "read",
  responses: { 200: { description: "The counts.", schema: StatsSchema } },
};

export function statsRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .get("/", async (c) => {
      const [leads, byStage, histogram] = await Promise.all([
        deps.live.count(),
        deps.live.countByStage(),
        deps.live.histogram(HISTOGRAM_WIDTH),
      ]);
      return c.json({ leads, by_stage: byStage, score_histogram: histogram } satisfies Stats);
    });
}
