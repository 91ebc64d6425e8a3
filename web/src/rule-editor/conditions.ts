// A rule's condition tree as the builder shows it: rows of field / operator / value / case, joined by "all" or
// "any", each row possibly negated. A tree of that shape converts to rows and back; any other tree (a group inside a
// group) is edited as JSON. Values are text in the rows and typed in the tree, so the edge's own schema judges them.
import type { Condition, ConditionLeaf, Operator, Scalar } from "@leadscore/contracts";

export type Combinator = "all" | "any";

export interface ConditionRow {
  /** Stable across edits, for the view's keys. */
  key: number;
  field: string;
  op: Operator;
  /** The value as typed: a list is comma-separated; `"12"` quoted is the text 12, not the number. */
  value: string;
  insensitive: boolean;
  /** The row is wrapped in `{ not: … }`. */
  negate: boolean;
}

export interface ConditionRows {
  combinator: Combinator;
  rows: ConditionRow[];
}

/** The operators the builder offers, with the words it shows for them. */
export const OPERATOR_CHOICES = [
  { op: "eq", text: "equals" },
  { op: "neq", text: "does not equal" },
  { op: "in", text: "is one of" },
  { op: "nin", text: "is none of" },
  { op: "contains", text: "contains" },
  { op: "starts_with", text: "starts with" },
  { op: "ends_with", text: "ends with" },
  { op: "glob", text: "matches (* ?)" },
  { op: "exists", text: "exists" },
  { op: "gt", text: ">" },
  { op: "gte", text: "≥" },
  { op: "lt", text: "<" },
  { op: "lte", text: "≤" },
] as const satisfies readonly { op: Operator; text: string }[];

const OP_TEXT = new Map<Operator, string>(OPERATOR_CHOICES.map((choice) => [choice.op, choice.text]));
const TEXT_OPS: ReadonlySet<Operator> = new Set(["contains", "starts_with", "ends_with", "glob"]);
const LIST_OPS: ReadonlySet<Operator> = new Set(["in", "nin"]);
const NUMBER_OPS: ReadonlySet<Operator> = new Set(["gt", "gte", "lt", "lte"]);
/** Operators that take `case` (the edge's string operators). */
export const CASE_OPS: ReadonlySet<Operator> = new Set(["eq", "neq", "in", "nin", ...TEXT_OPS]);

/** Fields offered as suggestions; any `metadata.<path>` is accepted. */
export const FIELD_SUGGESTIONS = [
  "metadata.path",
  "metadata.url",
  "metadata.email_id",
  "metadata.campaign",
  "metadata.plan",
  "lead.email",
  "lead.company",
  "lead.name",
] as const;

const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A scalar typed as text: `true`/`false` and numbers as such, `"…"` as the quoted text, anything else as text. */
export function parseScalar(text: string): Scalar {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (NUMBER.test(trimmed)) return Number(trimmed);
  if (trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"')) {
    try {
      return JSON.parse(trimmed) as string;
    } catch {
      return trimmed;
    }
  }
  return trimmed;
}

/** The text `parseScalar` reads back as the same value. */
export function scalarText(value: Scalar, inList = false): string {
  if (typeof value !== "string") return String(value);
  // In a list, a comma or a quote would split or join items: such an item is quoted.
  const plain = value === value.trim() && value !== "" && !(inList && /[",]/.test(value));
  return plain && parseScalar(value) === value ? value : JSON.stringify(value);
}

/** Splits a list at commas outside double quotes. */
function splitList(text: string): string[] {
  const items: string[] = [];
  let current = "";
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] as string;
    if (char === "\\" && quoted) {
      current += char + (text[index + 1] ?? "");
      index += 1;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === "," && !quoted) {
      items.push(current);
      current = "";
    } else current += char;
  }
  items.push(current);
  return items.map((item) => item.trim()).filter((item) => item !== "");
}

/** The value a row's text means for its operator; text that is not what the operator takes is left for the schema. */
export function rowValue(op: Operator, text: string): Scalar | Scalar[] {
  if (TEXT_OPS.has(op)) return text;
  if (LIST_OPS.has(op)) return splitList(text).map((item) => parseScalar(item));
  if (op === "exists") return text.trim() !== "false";
  if (NUMBER_OPS.has(op)) return NUMBER.test(text.trim()) ? Number(text.trim()) : text;
  return parseScalar(text);
}

/** The text a row shows for a leaf's value. */
export function valueText(op: Operator, value: Scalar | Scalar[]): string {
  if (Array.isArray(value)) return value.map((item) => scalarText(item, true)).join(", ");
  if (TEXT_OPS.has(op) && typeof value === "string") return value;
  return scalarText(value);
}

let nextKey = 1;

export function emptyRow(field = ""): ConditionRow {
  return { key: nextKey++, field, op: "eq", value: "", insensitive: false, negate: false };
}

function isLeaf(node: Condition): node is ConditionLeaf {
  return !("all" in node) && !("any" in node) && !("not" in node);
}

function rowOf(node: Condition): ConditionRow | null {
  const negate = "not" in node;
  const leaf = negate ? node.not : node;
  if (!isLeaf(leaf)) return null;
  return {
    key: nextKey++,
    field: leaf.field,
    op: leaf.op,
    value: valueText(leaf.op, leaf.value),
    insensitive: leaf.case === "insensitive",
    negate,
  };
}

/** The rows of a tree, or null when it has a shape rows cannot hold (then it is edited as JSON). */
export function rowsOf(tree: Condition | undefined): ConditionRows | null {
  if (tree === undefined) return { combinator: "all", rows: [] };
  const children = "all" in tree ? tree.all : "any" in tree ? tree.any : [tree];
  const rows = children.map(rowOf);
  if (rows.some((row) => row === null)) return null;
  return { combinator: "any" in tree ? "any" : "all", rows: rows as ConditionRow[] };
}

function leafOf(row: ConditionRow): Condition {
  const leaf: ConditionLeaf = { field: row.field.trim(), op: row.op, value: rowValue(row.op, row.value) };
  if (row.insensitive && CASE_OPS.has(row.op)) leaf.case = "insensitive";
  return row.negate ? { not: leaf } : leaf;
}

/** The tree the rows make: none without rows, a single row alone, several joined by the combinator. */
export function treeOf({ combinator, rows }: ConditionRows): Condition | undefined {
  if (rows.length === 0) return undefined;
  if (rows.length === 1) return leafOf(rows[0] as ConditionRow);
  const children = rows.map(leafOf);
  return combinator === "all" ? { all: children } : { any: children };
}

/**
 * Where the edge's problems about a row are reported: the path of its leaf in the tree `treeOf` makes
 * (`where`, `where.all[2]`, `where.any[0].not`), as the API names paths.
 */
export function rowPath({ combinator, rows }: ConditionRows, index: number): string {
  const base = rows.length === 1 ? "where" : `where.${combinator}[${index}]`;
  return rows[index]?.negate ? `${base}.not` : base;
}

function quote(value: Scalar | Scalar[]): string {
  return Array.isArray(value) ? value.map((item) => JSON.stringify(item)).join(", ") : JSON.stringify(value);
}

/** A condition tree in words, for the rules list: `metadata.path starts with "/pricing"`. */
export function describeCondition(tree: Condition): string {
  if ("all" in tree) return tree.all.map((child) => wrap(child)).join(" and ");
  if ("any" in tree) return tree.any.map((child) => wrap(child)).join(" or ");
  if ("not" in tree) return `not ${wrap(tree.not)}`;
  if (tree.op === "exists") return `${tree.field} ${tree.value === false ? "is missing" : "exists"}`;
  const caseText = tree.case === "insensitive" ? " (any case)" : "";
  return `${tree.field} ${OP_TEXT.get(tree.op) ?? tree.op} ${quote(tree.value)}${caseText}`;
}

function wrap(tree: Condition): string {
  const atomic = isLeaf(tree) || ("not" in tree && isLeaf(tree.not));
  return atomic ? describeCondition(tree) : `(${describeCondition(tree)})`;
}

const PER_TEXT = { lifetime: "ever", day: "a day", week: "a week", month: "a month" } as const;

/** A rule's limit in words: `at most 3 a day`, `at most once ever per metadata.email_id`. */
export function describeLimit(limit: {
  max: number;
  per: keyof typeof PER_TEXT;
  key?: string;
  field?: string;
}): string {
  const times = limit.max === 1 ? "once" : String(limit.max);
  // A rule's limit names its key field `key`; a matched candidate's names it `field` (its `key` is the value).
  const key = limit.field ?? limit.key;
  return `at most ${times} ${PER_TEXT[limit.per]}${key ? ` per ${key}` : ""}`;
}
