// Scoring model v2: rules with conditions, frequency limits and groups, their rule set (one version of all of them),
// and its compilation into a matcher indexed by event type. A rule of the v1 shape (`{ event_type, points }`) is a
// valid rule here: no condition, no limit, no group.
import { z } from "zod";
import {
  type CompiledCondition,
  type Condition,
  ConditionSchema,
  compileCondition,
  compileField,
  FieldSchema,
  type LeadProfile,
  type MatchInput,
} from "./conditions.ts";
import { EventIdSchema, EventTypeSchema, type FieldProblem } from "./event.ts";
import { type Candidate, LIMIT_PERIODS } from "./fold-v2.ts";
import { PointsSchema } from "./rules.ts";

/** Most rules one rule set may hold. */
export const MAX_RULES = 200;
/** Most groups one rule set may hold. */
export const MAX_GROUPS = 50;
/** Largest `limit.max` and group `max`. */
export const MAX_LIMIT = 1_000_000;

/** A rule's or group's display name. */
export const LabelSchema = z
  .string({ error: "must be a string" })
  .trim()
  .min(1, { error: "must not be empty" })
  .max(100, { error: "must be at most 100 characters" });

const CountSchema = z
  .number({ error: "must be a number" })
  .int({ error: "must be an integer" })
  .min(1, { error: "must be at least 1" })
  .max(MAX_LIMIT, { error: `must be at most ${MAX_LIMIT}` });

export const RuleLimitSchema = z.strictObject(
  {
    max: CountSchema.describe("Matching events of a bucket that get the points; later ones get 0."),
    per: z.enum(LIMIT_PERIODS, { error: `must be one of ${LIMIT_PERIODS.join(", ")}` }),
    key: FieldSchema.optional().describe("A field whose values each get their own buckets (e.g. metadata.email_id)."),
  },
  { error: "must be an object" },
);
export type RuleLimit = z.infer<typeof RuleLimitSchema>;

/** A rule as a client writes it (create or replace): `_id` and `label` are settled by the store when absent. */
export const RuleV2Schema = z.strictObject(
  {
    _id: EventIdSchema.optional(),
    label: LabelSchema.optional(),
    event_type: EventTypeSchema,
    where: ConditionSchema.optional(),
    points: PointsSchema,
    limit: RuleLimitSchema.optional(),
    group: EventIdSchema.optional().describe("The `_id` of the rule group whose max this rule's points count toward."),
    active: z.boolean({ error: "must be true or false" }).default(true),
  },
  { error: "must be a JSON object" },
);
export type RuleV2Input = z.input<typeof RuleV2Schema>;
/** A rule of a rule set: its id and label settled. */
export type RuleV2 = Omit<z.infer<typeof RuleV2Schema>, "_id" | "label" | "where"> & {
  _id: string;
  label: string;
  where?: Condition;
};

export const RuleGroupSchema = z.strictObject(
  {
    _id: EventIdSchema.optional(),
    label: LabelSchema,
    max: CountSchema.describe("Most points the group's rules add to one lead over its life (negative points apply)."),
  },
  { error: "must be a JSON object" },
);
export type RuleGroup = z.infer<typeof RuleGroupSchema> & { _id: string };

/** One version of the scoring rules: every write of a rule or group makes the next version. */
export const RuleSetSchema = z
  .strictObject(
    {
      version: z.number({ error: "must be a number" }).int({ error: "must be an integer" }).min(0),
      rules: z
        .array(RuleV2Schema.extend({ _id: EventIdSchema, label: LabelSchema }), { error: "must be an array" })
        .max(MAX_RULES, { error: `must hold at most ${MAX_RULES} rules` }),
      groups: z
        .array(RuleGroupSchema.extend({ _id: EventIdSchema }), { error: "must be an array" })
        .max(MAX_GROUPS, { error: `must hold at most ${MAX_GROUPS} groups` }),
    },
    { error: "must be a JSON object" },
  )
  .superRefine((set, ctx) => {
    const groups = new Set<string>();
    set.groups.forEach((group, index) => {
      if (groups.has(group._id)) ctx.addIssue({ code: "custom", message: "is taken", path: ["groups", index, "_id"] });
      groups.add(group._id);
    });
    const rules = new Set<string>();
    set.rules.forEach((rule, index) => {
      if (rules.has(rule._id)) ctx.addIssue({ code: "custom", message: "is taken", path: ["rules", index, "_id"] });
      rules.add(rule._id);
      if (rule.group !== undefined && !groups.has(rule.group)) {
        ctx.addIssue({ code: "custom", message: `names no group of this rule set`, path: ["rules", index, "group"] });
      }
    });
  });
export interface RuleSet {
  version: number;
  rules: RuleV2[];
  groups: RuleGroup[];
}

/** A zod issue path as the API names it: keys joined by dots, indexes in brackets (`where.all[2].value`). */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const part of path) {
    text += typeof part === "number" ? `[${part}]` : text === "" ? String(part) : `.${String(part)}`;
  }
  return text || "(body)";
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; details: FieldProblem[] };

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): Parsed<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  return {
    ok: false,
    details: parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      message: issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
    })),
  };
}

/** Checks a rule as a client sent it; problems carry the API's `{ path, message }` detail shape. */
export const parseRule = (raw: unknown): Parsed<z.infer<typeof RuleV2Schema>> => parseWith(RuleV2Schema, raw);
export const parseRuleGroup = (raw: unknown): Parsed<z.infer<typeof RuleGroupSchema>> =>
  parseWith(RuleGroupSchema, raw);
export const parseRuleSet = (raw: unknown): Parsed<RuleSet> => parseWith(RuleSetSchema as z.ZodType<RuleSet>, raw);

/** An event as the matcher reads it. */
export interface MatchableEvent {
  event_type: string;
  metadata?: Readonly<Record<string, unknown>>;
}

/** Why a rule did not match an event (the explain API). */
export interface RuleMiss {
  rule_id: string;
  label: string;
  reason: string;
}

export interface Explanation {
  /** The rule-set version the candidates come from. */
  rules_version: number;
  matched: Candidate[];
  missed: RuleMiss[];
}

export interface CompiledRuleSet {
  readonly version: number;
  /** Event types at least one active rule scores. */
  readonly eventTypes: ReadonlySet<string>;
  /**
   * The candidate points of an event: every active rule of its type whose condition holds, in rule-set order, each
   * with what the fold needs of it (points, limit with the event's key, group). Stored with the event at its first
   * scoring, with `version`.
   */
  match(event: MatchableEvent, lead?: LeadProfile | null): Candidate[];
  /** `match`, and why every other rule of the set did not match. */
  explain(event: MatchableEvent, lead?: LeadProfile | null): Explanation;
}

interface CompiledRule {
  rule: RuleV2;
  condition: CompiledCondition | null;
  /** The rule's candidate when it has no limit key (shared by every event: frozen). */
  fixed: Candidate | null;
  /** Builds the candidate of an event (rules whose limit has a key). */
  keyed: ((input: MatchInput) => Candidate) | null;
}

/** A key field's value as stored with a candidate: strings as they are, other values as text. */
function keyText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function compileRule(rule: RuleV2, groups: ReadonlyMap<string, RuleGroup>): CompiledRule {
  const condition = rule.where === undefined ? null : compileCondition(rule.where);
  const group = rule.group === undefined ? undefined : groups.get(rule.group);
  const base: Candidate = {
    rule_id: rule._id,
    points: rule.points,
    ...(rule.limit && { limit: { max: rule.limit.max, per: rule.limit.per } }),
    ...(group && { group: { id: group._id, max: group.max } }),
  };
  const { limit: ruleLimit } = rule;
  if (ruleLimit?.key === undefined) return { rule, condition, fixed: Object.freeze(base), keyed: null };
  const read = compileField(ruleLimit.key);
  const limit = { max: ruleLimit.max, per: ruleLimit.per, field: ruleLimit.key };
  return {
    rule,
    condition,
    fixed: null,
    keyed: (input) => {
      const value = keyText(read(input));
      return { ...base, limit: value === undefined ? limit : { ...limit, key: value } };
    },
  };
}

const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

/** Compiles a checked rule set once: rules indexed by event type, each condition a closure. */
export function compileRuleSet(set: RuleSet): CompiledRuleSet {
  const groups = new Map(set.groups.map((group) => [group._id, group]));
  const all = set.rules.map((rule) => compileRule(rule, groups));
  const byType = new Map<string, CompiledRule[]>();
  for (const compiled of all) {
    if (!compiled.rule.active) continue;
    const list = byType.get(compiled.rule.event_type) ?? [];
    list.push(compiled);
    byType.set(compiled.rule.event_type, list);
  }
  const candidateOf = (compiled: CompiledRule, input: MatchInput) =>
    compiled.fixed ?? (compiled.keyed as (input: MatchInput) => Candidate)(input);
  const inputOf = (event: MatchableEvent, lead?: LeadProfile | null): MatchInput => ({
    metadata: event.metadata ?? NO_METADATA,
    lead: lead ?? null,
  });

  const match = (event: MatchableEvent, lead?: LeadProfile | null): Candidate[] => {
    const rules = byType.get(event.event_type);
    if (rules === undefined) return [];
    const input = inputOf(event, lead);
    const matched: Candidate[] = [];
    for (const compiled of rules) {
      if (compiled.condition === null || compiled.condition.test(input)) matched.push(candidateOf(compiled, input));
    }
    return matched;
  };

  const explain = (event: MatchableEvent, lead?: LeadProfile | null): Explanation => {
    const input = inputOf(event, lead);
    const missed: RuleMiss[] = [];
    for (const { rule, condition } of all) {
      const reason = !rule.active
        ? "the rule is inactive"
        : rule.event_type !== event.event_type
          ? `the rule scores ${rule.event_type}, not ${event.event_type}`
          : (condition?.why(input) ?? null);
      if (reason !== null) missed.push({ rule_id: rule._id, label: rule.label, reason });
    }
    return { rules_version: set.version, matched: match(event, lead), missed };
  };

  return { version: set.version, eventTypes: new Set(byType.keys()), match, explain };
}
