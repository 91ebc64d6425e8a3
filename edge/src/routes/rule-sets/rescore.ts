import type { RescoreJob } from "@leadscore/runtime";
import { z } from "zod";
import { VersionSummarySchema } from "./rule-set.ts";

const isoDate = z.iso.datetime();
const at = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const RescoreParamsSchema = z.object({ id: z.string().min(1).max(64) });

export const RescoreOutputSchema = z
  .object({
    id: z.string(),
    version: z.number().int().describe("The version every lead is re-scored with."),
    webhooks: z.enum(["suppress", "send"]),
    state: z.enum(["queued", "running", "done", "superseded", "failed"]),
    created_at: isoDate,
    started_at: isoDate.nullable(),
    updated_at: isoDate.nullable(),
    finished_at: isoDate.nullable(),
    progress: z.object({
      leads_total: z.number().int(),
      events_total: z.number().int(),
      leads_done: z.number().int(),
      events_done: z.number().int(),
      leads_changed: z.number().int().describe("Leads whose score the re-score changed so far."),
      stage_changes: z.number().int().describe("Leads whose stage the re-score changed so far."),
      fraction: z.number().describe("Leads done over leads total, 0..1."),
    }),
    error: z.string().nullable(),
  })
  .meta({ id: "RuleSetRescore" });

export const RetroactivePublishOutputSchema = VersionSummarySchema.extend({ rescore: RescoreOutputSchema }).meta({
  id: "RuleSetRetroactivePublish",
});

export function toRescore(job: RescoreJob) {
  const { leads_total, leads_done } = job.progress;
  const fraction = job.state === "done" ? 1 : leads_total === 0 ? 0 : Math.min(1, leads_done / leads_total);
  return {
    ...job,
    created_at: new Date(job.created_at).toISOString(),
    started_at: at(job.started_at),
    updated_at: at(job.updated_at),
    finished_at: at(job.finished_at),
    progress: { ...job.progress, fraction },
  };
}
