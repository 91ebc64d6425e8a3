import { EventIdSchema, type RuleDocument } from "@leadscore/contracts";
import { rulesChannel } from "@leadscore/runtime";
import { z } from "zod";
import type { AppDeps } from "../../deps.ts";

/** Rule ids share the id alphabet; rules created here use their event type as id, like the seeded ones. */
export const RuleParamsSchema = z.strictObject({ id: EventIdSchema.describe("The rule's id.") });

export const LabelSchema = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, { error: "must not be empty" })
  .max(100, { error: "must be at most 100 characters" });

const isoDate = z.iso.datetime();

export const RuleOutputSchema = z
  .object({
    _id: z.string(),
    event_type: z.string(),
    points: z.number().int(),
    active: z.boolean(),
    label: z.string(),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "Rule" });
export type RuleOutput = z.infer<typeof RuleOutputSchema>;

export function toRule(doc: RuleDocument): RuleOutput {
  const created = doc.created_at ?? doc.updated_at ?? new Date(0);
  return {
    _id: doc._id,
    event_type: doc.event_type,
    points: doc.points,
    active: doc.active,
    label: doc.label,
    created_at: created.toISOString(),
    updated_at: (doc.updated_at ?? created).toISOString(),
  };
}

/** "demo_request" → "Demo Request". */
export function labelFor(eventType: string): string {
  return eventType
    .split("_")
    .filter((word) => word.length > 0)
    .map((word) => word[0]?.toUpperCase() + word.slice(1))
    .join(" ");
}

export type RuleChange = "created" | "updated" | "deleted";

/**
 * Tells every worker to reload its rules. The write is already durable when this runs, so a Redis failure is
 * logged, not returned: the client must not retry a write that happened.
 */
export async function announceRuleChange(deps: AppDeps, change: RuleChange, ruleId: string): Promise<void> {
  const message = JSON.stringify({ change, rule_id: ruleId, at: new Date((deps.now ?? Date.now)()).toISOString() });
  try {
    await deps.redis.publish(rulesChannel(deps.config.REDIS_PREFIX), message);
  } catch (error) {
    deps.log.warn("rule change not announced", { rule_id: ruleId, error: String(error) });
  }
}
