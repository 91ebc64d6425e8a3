// Condition trees of scoring rules (`where`): their shape, their bounds, and their compilation to closures. A tree is
// `{ all: [...] }`, `{ any: [...] }`, `{ not: {...} }` or a leaf `{ field, op, value, case? }` over the event's
// metadata (`metadata.<dotted path>`) and the lead's profile (`lead.email`, `lead.company`, `lead.name`).
import { z } from "zod";
import { RESERVED_METADATA_KEYS } from "./event.ts";
import { compileGlob } from "./glob.ts";

/** Deepest condition tree accepted: a leaf alone is depth 1, `{ all: [leaf] }` depth 2. */
export const MAX_CONDITION_DEPTH = 6;
/** Most leaves one rule's tree may hold. */
export const MAX_CONDITION_LEAVES = 32;
/** Longest string value of a leaf, in characters (each item of an `in` list alike). */
export const MAX_CONDITION_VALUE_LENGTH = 256;
/** Most values an `in` / `nin` list may hold. */
export const MAX_CONDITION_LIST = 64;

export const STRING_OPERATORS = ["eq", "neq", "in", "nin", "contains", "starts_with", "ends_with", "glob"] as const;
export const NUMBER_OPERATORS = ["gt", "gte", "lt", "lte"] as const;
export const OPERATORS = [...STRING_OPERATORS, "exists", ...NUMBER_OPERATORS] as const;
export type Operator = (typeof OPERATORS)[number];

export const PROFILE_FIELDS = ["email", "company", "name"] as const;

const METADATA_SEGMENT = /^[^.$][^.]{0,127}$/;
const MAX_FIELD_SEGMENTS = 16;

/** What is wrong with a field name, or null: `metadata.<path>` (keys as stored, dotted) or `lead.<profile field>`. */
export function fieldProblem(field: string): string | null {
  const [root, ...path] = field.split(".");
  if (root === "lead" && path.length === 1 && (PROFILE_FIELDS as readonly string[]).includes(path[0] as string)) {
    return null;
  }
  if (root === "metadata" && path.length > 0 && path.length <= MAX_FIELD_SEGMENTS) {
    const bad = path.find((key) => !METADATA_SEGMENT.test(key) || RESERVED_METADATA_KEYS.has(key));
    return bad === undefined ? null : `key "${bad}" cannot be a metadata key`;
  }
  return `must be metadata.<path> (at most ${MAX_FIELD_SEGMENTS} keys) or lead.email, lead.company or lead.name`;
}

export const FieldSchema = z.string({ error: "must be a string" }).superRefine((field, ctx) => {
  const message = fieldProblem(field);
  if (message) ctx.addIssue({ code: "custom", message });
});

const TextValueSchema = z
  .string({ error: "must be a string" })
  .max(MAX_CONDITION_VALUE_LENGTH, { error: `must be at most ${MAX_CONDITION_VALUE_LENGTH} characters` });
const NumberValueSchema = z.number({ error: "must be a number" }).refine(Number.isFinite, "must be a finite number");
const ScalarValueSchema = z.union([TextValueSchema, NumberValueSchema, z.boolean()], {
  error: "must be a string, a number or a boolean",
});

const ListValueSchema = z
  .array(ScalarValueSchema, { error: "must be an array of strings, numbers or booleans" })
  .min(1, { error: "must hold at least one value" })
  .max(MAX_CONDITION_LIST, { error: `must hold at most ${MAX_CONDITION_LIST} values` });

/** The `value` each operator takes. */
const VALUE_SCHEMAS: Record<Operator, z.ZodType> = {
  eq: ScalarValueSchema,
  neq: ScalarValueSchema,
  in: ListValueSchema,
  nin: ListValueSchema,
  contains: TextValueSchema,
  starts_with: TextValueSchema,
  ends_with: TextValueSchema,
  glob: TextValueSchema,
  exists: z.boolean({ error: "must be true or false" }),
  gt: NumberValueSchema,
  gte: NumberValueSchema,
  lt: NumberValueSchema,
  lte: NumberValueSchema,
};

export type Scalar = string | number | boolean;

export interface ConditionLeaf {
  field: string;
  op: Operator;
  value: Scalar | Scalar[];
  /** String operators only: compare without regard to case. */
  case?: "sensitive" | "insensitive";
}
export type Condition = { all: Condition[] } | { any: Condition[] } | { not: Condition } | ConditionLeaf;

const LeafSchema = z.strictObject(
  {
    field: FieldSchema,
    op: z.enum(OPERATORS, { error: `must be one of ${OPERATORS.join(", ")}` }),
    value: z.unknown().optional(),
    case: z.enum(["sensitive", "insensitive"], { error: 'must be "sensitive" or "insensitive"' }).optional(),
  },
  { error: "must be an object" },
);

/** A problem in a tree: where (keys and indexes below the tree's root) and what. */
export interface ConditionProblem {
  path: (string | number)[];
  message: string;
}

/** Every problem of one leaf, its shape and the value its operator takes. */
function leafProblems(node: unknown, path: (string | number)[]): ConditionProblem[] {
  const parsed = LeafSchema.safeParse(node);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({
      path: [...path, ...(issue.path as (string | number)[])],
      message: issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : issue.message,
    }));
  }
  const { op, value } = parsed.data;
  const problems: ConditionProblem[] = [];
  if (value === undefined) problems.push({ path: [...path, "value"], message: "is required" });
  else {
    const checked = VALUE_SCHEMAS[op].safeParse(value);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        problems.push({ path: [...path, "value", ...(issue.path as (string | number)[])], message: issue.message });
      }
    }
  }
  if (parsed.data.case !== undefined && !(STRING_OPERATORS as readonly string[]).includes(op)) {
    problems.push({ path: [...path, "case"], message: `applies to string operators only, not ${op}` });
  }
  return problems;
}

const BRANCHES = ["all", "any", "not"] as const;

/**
 * Every problem of a condition tree, each with its path below the tree: shape, operators and values, depth ≤
 * `MAX_CONDITION_DEPTH` and leaves ≤ `MAX_CONDITION_LEAVES` (reported at the tree's root).
 */
export function conditionProblems(tree: unknown): ConditionProblem[] {
  const problems: ConditionProblem[] = [];
  let leaves = 0;
  const walk = (node: unknown, path: (string | number)[], depth: number): void => {
    if (depth > MAX_CONDITION_DEPTH) {
      problems.push({ path, message: `nests deeper than ${MAX_CONDITION_DEPTH} levels` });
      return;
    }
    if (node === null || typeof node !== "object" || Array.isArray(node)) {
      problems.push({ path, message: "must be an object: { all }, { any }, { not } or { field, op, value }" });
      return;
    }
    const branch = BRANCHES.find((key) => Object.hasOwn(node, key));
    if (branch === undefined) {
      leaves += 1;
      problems.push(...leafProblems(node, path));
      return;
    }
    const extra = Object.keys(node).filter((key) => key !== branch);
    if (extra.length > 0) problems.push({ path, message: `unknown field(s) beside "${branch}": ${extra.join(", ")}` });
    const inner = (node as Record<string, unknown>)[branch];
    if (branch === "not") {
      walk(inner, [...path, "not"], depth + 1);
      return;
    }
    if (!Array.isArray(inner) || inner.length === 0) {
      problems.push({ path: [...path, branch], message: "must be an array of at least one condition" });
      return;
    }
    inner.forEach((child, index) => {
      walk(child, [...path, branch, index], depth + 1);
    });
  };
  walk(tree, [], 1);
  if (leaves > MAX_CONDITION_LEAVES) {
    problems.unshift({ path: [], message: `holds ${leaves} conditions, more than ${MAX_CONDITION_LEAVES}` });
  }
  return problems;
}

/** A condition tree, checked by `conditionProblems`: a zod schema for the rule schemas built on it. */
export const ConditionSchema = z
  .unknown()
  .superRefine((tree, ctx) => {
    for (const problem of conditionProblems(tree)) {
      ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
    }
  })
  .transform((tree) => tree as Condition)
  .meta({
    description:
      'A condition tree: { "all": [...] }, { "any": [...] }, { "not": {...} } or a leaf { "field", "op", "value", ' +
      '"case"? }. Fields: metadata.<dotted path>, lead.email, lead.company, lead.name. ' +
      `Operators: ${OPERATORS.join(", ")}. At most ${MAX_CONDITION_DEPTH} levels, ${MAX_CONDITION_LEAVES} leaves, ` +
      `${MAX_CONDITION_VALUE_LENGTH} characters per value.`,
  });

/** The lead's profile as conditions read it; a null field is missing. */
export interface LeadProfile {
  email?: string | null;
  company?: string | null;
  name?: string | null;
}

/** What a condition is tested against: the event's metadata and its lead's profile (when known). */
export interface MatchInput {
  metadata: Readonly<Record<string, unknown>>;
  lead?: LeadProfile | null;
}

/** Reads a field from a match input; undefined when it is missing (a null value is missing too). */
export type FieldReader = (input: MatchInput) => unknown;

/** Compiles a field name (checked by `fieldProblem`) to a reader: own keys only, so `toString` is never found. */
export function compileField(field: string): FieldReader {
  const [root, ...path] = field.split(".");
  if (root === "lead") {
    const key = path[0] as keyof LeadProfile;
    return (input) => input.lead?.[key] ?? undefined;
  }
  return (input) => {
    let value: unknown = input.metadata;
    for (const key of path) {
      if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return value ?? undefined;
  };
}

/** A compiled condition: `test` for scoring, `why` (null when it holds) for the explain API. */
export interface CompiledCondition {
  test(input: MatchInput): boolean;
  why(input: MatchInput): string | null;
}

const OP_TEXT: Record<Operator, string> = {
  eq: "equal",
  neq: "differ from",
  in: "be one of",
  nin: "be none of",
  contains: "contain",
  starts_with: "start with",
  ends_with: "end with",
  glob: "match",
  exists: "exist",
  gt: "be greater than",
  gte: "be at least",
  lt: "be less than",
  lte: "be at most",
};

/** A predicate on a field's value (never undefined: a missing field is decided by the caller). */
function compilePredicate(op: Operator, value: Scalar | Scalar[], fold: boolean): (actual: unknown) => boolean {
  const norm = (v: unknown) => (fold && typeof v === "string" ? v.toLowerCase() : v);
  const text = typeof value === "string" ? (norm(value) as string) : "";
  const number = typeof value === "number" ? value : Number.NaN;
  const asText = (actual: unknown) => (typeof actual === "string" ? (norm(actual) as string) : null);
  switch (op) {
    case "eq":
    case "neq": {
      const want = norm(value);
      return (actual) => norm(actual) === want;
    }
    case "in":
    case "nin": {
      const set = new Set((value as Scalar[]).map(norm));
      return (actual) => set.has(norm(actual));
    }
    case "contains":
      return (actual) => asText(actual)?.includes(text) ?? false;
    case "starts_with":
      return (actual) => asText(actual)?.startsWith(text) ?? false;
    case "ends_with":
      return (actual) => asText(actual)?.endsWith(text) ?? false;
    case "glob": {
      const matches = compileGlob(value as string, { caseInsensitive: fold });
      return (actual) => typeof actual === "string" && matches(actual);
    }
    case "exists":
      return () => value === true;
    case "gt":
      return (actual) => typeof actual === "number" && actual > number;
    case "gte":
      return (actual) => typeof actual === "number" && actual >= number;
    case "lt":
      return (actual) => typeof actual === "number" && actual < number;
    case "lte":
      return (actual) => typeof actual === "number" && actual <= number;
  }
}

/** Negated operators hold where their positive form does not, a missing field included (`neq` ≡ `not eq`). */
const NEGATED: ReadonlySet<Operator> = new Set(["neq", "nin"]);

function compileLeaf(leaf: ConditionLeaf): CompiledCondition {
  const read = compileField(leaf.field);
  const positive = compilePredicate(leaf.op, leaf.value, leaf.case === "insensitive");
  const negated = NEGATED.has(leaf.op);
  const exists = leaf.op === "exists";
  const test = (input: MatchInput): boolean => {
    const actual = read(input);
    if (actual === undefined) return negated || (exists && leaf.value === false);
    return negated ? !positive(actual) : positive(actual);
  };
  const expected = `${leaf.field} must ${OP_TEXT[leaf.op]}`;
  const shown = leaf.op === "exists" ? (leaf.value ? "" : " (must be missing)") : ` ${JSON.stringify(leaf.value)}`;
  return {
    test,
    why(input) {
      if (test(input)) return null;
      const actual = read(input);
      const got = actual === undefined ? "it is missing" : `it is ${JSON.stringify(actual)}`;
      const caseText = leaf.case === "insensitive" ? " (any case)" : "";
      return leaf.op === "exists" && leaf.value === false
        ? `${leaf.field} must be missing; ${got}`
        : `${expected}${shown}${caseText}; ${got}`;
    },
  };
}

/** Compiles a checked condition tree to closures, once; matching then walks no tree of objects. */
export function compileCondition(condition: Condition): CompiledCondition {
  if ("all" in condition) {
    const children = condition.all.map(compileCondition);
    return {
      test: (input) => children.every((child) => child.test(input)),
      why: (input) => {
        for (const child of children) {
          const reason = child.why(input);
          if (reason !== null) return reason;
        }
        return null;
      },
    };
  }
  if ("any" in condition) {
    const children = condition.any.map(compileCondition);
    return {
      test: (input) => children.some((child) => child.test(input)),
      why: (input) => {
        const reasons: string[] = [];
        for (const child of children) {
          const reason = child.why(input);
          if (reason === null) return null;
          reasons.push(reason);
        }
        return `none of: ${reasons.join(" | ")}`;
      },
    };
  }
  if ("not" in condition) {
    const inner = compileCondition(condition.not);
    return {
      test: (input) => !inner.test(input),
      why: (input) => (inner.test(input) ? `must not hold: ${JSON.stringify(condition.not)}` : null),
    };
  }
  return compileLeaf(condition);
}
