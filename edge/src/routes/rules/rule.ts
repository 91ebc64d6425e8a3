import {
  type Condition,
  ConditionSchema,
  EventIdSchema,
  formatPath,
  MAX_CONDITION_LIST,
  MAX_CONDITION_VALUE_LENGTH,
  OPERATORS,
  type RuleDocument,
  RuleLimitSchema,
} from "@leadscore/contracts";
import { type RuleStore, RuleWriteError, rulesChannel } from "@leadscore/runtime";
import type { Context } from "hono";
import { z } from "zod";
import { MAX_ADMIN_BODY_BYTES } from "../../api/body.ts";
import type { AppDeps } from "../../deps.ts";
import type { ErrorDetail } from "../../errors.ts";
import { ApiError } from "../../errors.ts";
import { readJsonBody } from "../../ingest/body.ts";

/** Rule (and group) ids share the id alphabet. */
export const RuleParamsSchema = z.strictObject({ id: EventIdSchema.describe("The rule's id.") });

const isoDate = z.iso.datetime();

const ScalarDocSchema = z.union([z.string().max(MAX_CONDITION_VALUE_LENGTH), z.number(), z.boolean()]);

/**
 * A condition tree as the API document describes it: the shape of `ConditionSchema` (contracts), whose checks (depth,
 * leaves, each operator's value) run on a tree taken as it comes and so cannot describe it themselves. The routes
 * validate with `ConditionSchema`; this is for the document only.
 */
export const ConditionDocSchema: z.ZodType = z
  .union([
    z
      .strictObject({
        field: z
          .string()
          .describe("metadata.<dotted path> (as stored; array items by index), lead.email, lead.company or lead.name."),
        op: z.enum(OPERATORS),
        value: z
          .union([ScalarDocSchema, z.array(ScalarDocSchema).min(1).max(MAX_CONDITION_LIST)])
          .describe("A string, number or boolean; a list of them for in and nin; true or false for exists."),
        case: z.enum(["sensitive", "insensitive"]).optional().describe("String operators only."),
      })
      .meta({ id: "ConditionLeaf" }),
    z.strictObject({
      get all() {
        return z.array(ConditionDocSchema).min(1);
      },
    }),
    z.strictObject({
      get any() {
        return z.array(ConditionDocSchema).min(1);
      },
    }),
    z.strictObject({
      get not() {
        return ConditionDocSchema;
      },
    }),
  ])
  .meta({ id: "Condition", description: ConditionSchema.description });

export const RuleOutputSchema = z
  .object({
    _id: z.string(),
    event_type: z.string(),
    points: z.number().int(),
    active: z.boolean(),
    label: z.string(),
    where: z.unknown().optional().meta({ description: "The rule's condition tree (absent: every event of the type)." }),
    limit: RuleLimitSchema.optional(),
    group: z.string().optional(),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "Rule" });
export type RuleOutput = z.infer<typeof RuleOutputSchema>;

/** A stored rule's or group's times as the API shows them (older documents may lack one). */
export function timesOf(doc: { created_at?: Date; updated_at?: Date }): { created_at: string; updated_at: string } {
  const created = doc.created_at ?? doc.updated_at ?? new Date(0);
  return { created_at: created.toISOString(), updated_at: (doc.updated_at ?? created).toISOString() };
}

export function toRule(doc: RuleDocument): RuleOutput {
  return {
    _id: doc._id,
    event_type: doc.event_type,
    points: doc.points,
    active: doc.active,
    label: doc.label,
    ...(doc.where !== undefined && { where: JSON.parse(doc.where) as Condition }),
    ...(doc.limit !== undefined && { limit: doc.limit as RuleOutput["limit"] }),
    ...(doc.group !== undefined && { group: doc.group }),
    ...timesOf(doc),
  };
}

/** The rule store as the routes use it. */
export function ruleStoreOf(deps: AppDeps): RuleStore {
  return { db: deps.db, redis: deps.redis, redisPrefix: deps.config.REDIS_PREFIX, now: deps.now };
}

/** Runs a store write; a refused write becomes the API error its code names. */
export async function storeWrite<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof RuleWriteError) throw new ApiError(error.code, error.message, error.details);
    throw error;
  }
}

/**
 * Reads a JSON body (the edge's one reader: 415, 413, 408, 400) and validates it, naming each problem by its path as
 * the rules API does everywhere: keys joined by dots, indexes in brackets (`where.all[2].value`).
 */
export async function parseRuleBody<S extends z.ZodType>(c: Context, schema: S, deps: AppDeps): Promise<z.infer<S>> {
  // Every admin body's bound (16 KB): far more than a real rule, and it keeps a whole rule set of 200 rules, stored as
  // one document, well under MongoDB's 16 MB.
  const raw = await readJsonBody(c.req.raw, MAX_ADMIN_BODY_BYTES, false, deps.config.BODY_READ_TIMEOUT_MS);
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const details = new Map<string, string>();
  for (const issue of result.error.issues) {
    const paths = issue.code === "unrecognized_keys" ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of paths) {
      const name = formatPath(path);
      if (!details.has(name)) details.set(name, issue.code === "unrecognized_keys" ? "unknown field" : issue.message);
    }
  }
  const list: ErrorDetail[] = [...details].map(([path, message]) => ({ path, message }));
  throw new ApiError("VALIDATION_FAILED", "invalid body", list);
}

export type RuleChange = "created" | "updated" | "deleted";

/**
 * Tells every worker to reload its rules: `{ change, rule_id, at, rules_version }` (a group's change carries
 * `group_id`). The write is already durable when this runs, so a Redis failure is logged, not returned: the client
 * must not retry a write that happened.
 */
export async function announceRuleChange(
  deps: AppDeps,
  change: RuleChange,
  subject: { rule_id: string } | { group_id: string },
  version: number,
): Promise<void> {
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  const message = JSON.stringify({ change, ...subject, at, rules_version: version });
  try {
    await deps.redis.publish(rulesChannel(deps.config.REDIS_PREFIX), message);
  } catch (error) {
    deps.log.warn("rule change not announced", { ...subject, error: String(error) });
  }
}

/** `X-Rules-Version`: the rule-set version a response describes or a write made. */
export const RULES_VERSION_HEADER = "X-Rules-Version";
