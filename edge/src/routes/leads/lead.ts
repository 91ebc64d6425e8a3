import { LeadIdSchema, STAGES } from "@leadscore/contracts";
import type { LiveLead } from "@leadscore/live";
import { z } from "zod";
import { scoreNumber } from "../../openapi/score.ts";

export const LeadParamsSchema = z.strictObject({ id: LeadIdSchema.describe("The lead's id.") });

const isoDate = z.iso.datetime();

/** A lead as the API returns it: its live state in Redis; the worker's bookkeeping (version, tail) stays inside. */
export const LeadSchema = z
  .object({
    _id: z.string(),
    name: z.string().nullable(),
    email: z.string().nullable(),
    company: z.string().nullable(),
    current_score: scoreNumber("The score at the instant of the request (decayed from the last event)."),
    stage: z.enum(STAGES),
    event_count: z.number().int(),
    last_event_at: isoDate.nullable().describe("Event time of the lead's newest event."),
    score_reached_at: isoDate.nullable().describe("Event time at which the score last changed to its current value."),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "Lead" });
export type Lead = z.infer<typeof LeadSchema>;

/** One lead with its place on the leaderboard. */
export const RankedLeadSchema = LeadSchema.extend({
  rank: z
    .number()
    .int()
    .min(1)
    .nullable()
    .describe("1-based position in leaderboard order (score, then who reached it first, then id)."),
  rank_of: z.number().int().min(0).describe("How many leads are ranked."),
  merged_from: z
    .array(z.object({ id: z.string(), events: z.number().int() }))
    .optional()
    .describe(
      "The ids merged into this lead (an identify, an admin merge), with how many events each brought; absent when " +
        "none. Asking for a merged id answers this lead, so `_id` then differs from the id asked for.",
    ),
}).meta({ id: "RankedLead" });
export type RankedLead = z.infer<typeof RankedLeadSchema>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function toLead(lead: LiveLead): Lead {
  return {
    _id: lead.id,
    name: lead.name,
    email: lead.email,
    company: lead.company,
    current_score: lead.score,
    stage: lead.stage,
    event_count: lead.count,
    last_event_at: iso(lead.lastEventAt),
    score_reached_at: iso(lead.reachedAt),
    created_at: new Date(lead.createdAt).toISOString(),
    updated_at: new Date(lead.updatedAt || lead.createdAt).toISOString(),
  };
}
