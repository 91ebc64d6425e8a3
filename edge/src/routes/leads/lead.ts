import { type LeadDocument, LeadIdSchema, STAGES, type StageThresholds, stageFor } from "@leadscore/contracts";
import { z } from "zod";

export const LeadParamsSchema = z.strictObject({ id: LeadIdSchema.describe("The lead's id.") });

const isoDate = z.iso.datetime();

/** A lead as the API returns it; the worker's bookkeeping (`version`, `last_sort_key`) stays inside. */
export const LeadSchema = z
  .object({
    _id: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    company: z.string().nullable(),
    current_score: z.number().int(),
    stage: z.enum(STAGES),
    event_count: z.number().int(),
    last_event_at: isoDate.nullable().describe("Event time of the lead's newest event."),
    score_reached_at: isoDate.nullable().describe("Event time at which the score last changed to its current value."),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "Lead" });
export type Lead = z.infer<typeof LeadSchema>;

/** Fields read from MongoDB for a lead; everything else in the document is never fetched. */
export const LEAD_PROJECTION = {
  _id: 1,
  name: 1,
  email: 1,
  company: 1,
  current_score: 1,
  stage: 1,
  event_count: 1,
  last_event_at: 1,
  score_reached_at: 1,
  created_at: 1,
  updated_at: 1,
} as const;

const iso = (value: Date | null | undefined): string | null => (value instanceof Date ? value.toISOString() : null);

/**
 * A lead created through `POST /api/leads` has only profile fields until its first event is scored (the worker
 * owns the score fields), so missing score fields read as a lead with no events: score 0.
 */
export function toLead(doc: Partial<LeadDocument> & { _id: string }, thresholds: StageThresholds): Lead {
  const score = doc.current_score ?? 0;
  const created = doc.created_at ?? doc.updated_at ?? new Date(0);
  return {
    _id: doc._id,
    name: doc.name ?? null,
    email: doc.email ?? null,
    company: doc.company ?? null,
    current_score: score,
    stage: doc.stage ?? stageFor(score, thresholds),
    event_count: doc.event_count ?? 0,
    last_event_at: iso(doc.last_event_at),
    score_reached_at: iso(doc.score_reached_at),
    created_at: created.toISOString(),
    updated_at: (doc.updated_at ?? created).toISOString(),
  };
}
