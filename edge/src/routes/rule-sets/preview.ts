import { STAGES } from "@leadscore/contracts";
import type { PreviewRecord } from "@leadscore/runtime";
import { z } from "zod";

export const PreviewParamsSchema = z.strictObject({ id: z.uuid({ error: "must be a preview id" }) });

const isoDate = z.iso.datetime();
const stageCounts = z.object(Object.fromEntries(STAGES.map((stage) => [stage, z.number().int()])));
const HistogramSchema = z.array(z.object({ from: z.number().int(), to: z.number().int(), count: z.number().int() }));

export const PreviewOutputSchema = z
  .object({
    id: z.string(),
    state: z.enum(["queued", "running", "done", "cancelled", "failed"]),
    based_on: z.number().int().describe("The version the draft was copied from."),
    created_at: isoDate,
    started_at: isoDate.nullable(),
    finished_at: isoDate.nullable(),
    progress: z.object({
      phase: z
        .enum(["reading", "folding"])
        .describe("Finding the leads (or reading the stored events once, for a draft reading metadata), then folding."),
      events_total: z
        .number()
        .int()
        .describe("The events the live state has scored; for a draft reading metadata, the count read once read."),
      events_read: z.number().int(),
      events_done: z.number().int().describe("Events folded (as stored and as drafted)."),
      leads_done: z.number().int(),
      eta_seconds: z.number().nullable().describe("From the rate so far; null before any work is done."),
    }),
    result: z
      .object({
        leads: z.number().int(),
        events: z.number().int(),
        changed: z.number().int().describe("Leads whose score changes."),
        stage_changes: z.number().int().describe("Leads whose stage changes."),
        webhooks: z
          .number()
          .int()
          .describe("lead.stage_changed messages a retroactive publish with webhooks would send: one per lead moved."),
        matrix: z
          .object(Object.fromEntries(STAGES.map((stage) => [stage, stageCounts])))
          .describe("Leads by stage now (rows) and under the draft (columns)."),
        histogram: z.object({ before: HistogramSchema, after: HistogramSchema }),
        movers: z
          .array(
            z.object({
              lead_id: z.string(),
              before: z.number().int(),
              after: z.number().int(),
              delta: z.number().int(),
              stage_before: z.enum(STAGES),
              stage_after: z.enum(STAGES),
              rules: z.array(z.object({ rule_id: z.string(), before: z.number().int(), after: z.number().int() })),
            }),
          )
          .describe("The 50 leads that move most, each with the rules whose points differ."),
      })
      .optional()
      .describe("Once done."),
    error: z.string().optional(),
  })
  .meta({ id: "RuleSetPreview" });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A preview as the API shows it, with an ETA from the rate so far (reading and folding each count every event). */
export function toPreview(record: PreviewRecord, now: number) {
  const { progress } = record;
  const total = 2 * progress.events_total;
  const done = progress.events_read + progress.events_done;
  const elapsed = record.started_at === null ? 0 : (record.finished_at ?? now) - record.started_at;
  const eta =
    record.state === "done"
      ? 0
      : done > 0 && elapsed > 0
        ? Math.max(0, (elapsed * (total - done)) / done / 1000)
        : null;
  const result = record.result === null ? undefined : JSON.parse(record.result);
  return {
    id: record.id,
    state: record.state,
    based_on: record.based_on,
    created_at: iso(record.created_at),
    started_at: iso(record.started_at),
    finished_at: iso(record.finished_at),
    progress: { ...progress, eta_seconds: eta === null ? null : Math.round(eta * 10) / 10 },
    ...(result !== undefined && { result: { ...result, webhooks: result.stage_changes } }),
    ...(record.error !== null && { error: record.error }),
  };
}
