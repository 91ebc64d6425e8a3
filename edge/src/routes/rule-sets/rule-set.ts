import { EventIdSchema, LabelSchema, PointsSchema, RuleLimitSchema } from "@leadscore/contracts";
import {
  type Draft,
  MAX_HALF_LIFE_SECONDS,
  parseRuleSetBody,
  type RuleSetBody,
  type VersionSummary,
} from "@leadscore/runtime";
import type { Context } from "hono";
import { z } from "zod";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import { readJsonBody } from "../../ingest/body.ts";
import { ConditionDocSchema } from "../rules/rule.ts";

/** A whole rule set is far larger than one rule: 200 rules with conditions fit easily. */
export const MAX_RULE_SET_BODY_BYTES = 512 * 1024;

const isoDate = z.iso.datetime();

const SetRuleDocSchema = z.object({
  _id: EventIdSchema,
  label: LabelSchema,
  event_type: z.string(),
  points: PointsSchema,
  active: z.boolean().optional().describe("Default true."),
  where: ConditionDocSchema.optional(),
  limit: RuleLimitSchema.optional(),
  group: z.string().optional(),
});

/** `{ rules, groups, half_life_seconds? }`: a whole set, as a draft holds it and a client writes it. */
export const RuleSetBodyDocSchema = z
  .object({
    rules: z
      .array(SetRuleDocSchema)
      .describe("At most 200; ids unique; two rules of one type may not both lack where."),
    groups: z
      .array(z.object({ _id: EventIdSchema, label: LabelSchema, max: z.number().int() }))
      .describe("At most 50; ids unique; every rule's group names one."),
    half_life_seconds: z
      .number()
      .int()
      .min(1)
      .max(MAX_HALF_LIFE_SECONDS)
      .optional()
      .describe("Decay's half-life, stored and returned with the set."),
  })
  .meta({ id: "RuleSetBody" });

export const DraftOutputSchema = RuleSetBodyDocSchema.extend({
  based_on: z.number().int().describe("The version the draft was copied from."),
  created_at: isoDate,
  updated_at: isoDate,
  updated_by: z.string(),
}).meta({ id: "RuleSetDraft" });

export const VersionSummarySchema = z
  .object({
    version: z.number().int(),
    published_by: z.string(),
    published_at: isoDate,
    live: z.boolean().describe("Whether it is the version in force."),
    source: z
      .enum(["rules", "draft", "version"])
      .describe("A write of the rules API, a published draft, or an earlier version published again."),
    restores: z.number().int().optional().describe("The earlier version it publishes again."),
    mode: z.enum(["forward", "retroactive"]).optional(),
    webhooks: z.enum(["suppress", "send"]).optional(),
  })
  .meta({ id: "RuleSetVersion" });

export const VersionOutputSchema = VersionSummarySchema.extend(RuleSetBodyDocSchema.shape).meta({
  id: "RuleSetVersionWhole",
});

export function toSummary(summary: VersionSummary) {
  return { ...summary, published_at: summary.published_at.toISOString() };
}

export function toDraft(draft: Draft) {
  return { ...draft, created_at: draft.created_at.toISOString(), updated_at: draft.updated_at.toISOString() };
}

/** Reads and checks a whole set (`parseRuleSetBody`); problems are 400s at their paths (`rules[2].where.value`). */
export async function parseSetBody(c: Context, deps: AppDeps): Promise<RuleSetBody> {
  const raw = await readJsonBody(c.req.raw, MAX_RULE_SET_BODY_BYTES, false, deps.config.BODY_READ_TIMEOUT_MS);
  const parsed = parseRuleSetBody(raw);
  if (!parsed.ok) throw new ApiError("VALIDATION_FAILED", "invalid rule set", parsed.details);
  return parsed.value;
}

export const VersionParamsSchema = z.strictObject({
  version: z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(1, { error: "must be at least 1" })
    .describe("A stored version."),
});
