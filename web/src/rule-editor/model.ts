// The rule form: a new rule, or the whole of an existing one — event type, points, the condition builder, the limit,
// the group and whether it is active. It checks the rule with the edge's own schema (loaded on first use) and shows
// every problem, the edge's included, at the field its path names.
import type { Condition, LimitPeriod } from "@leadscore/contracts";
import { batch, computed, createModel, type ReadonlySignal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type FieldDetail, type RuleGroupItem, type RuleItem } from "../lib/api.ts";
import { placeErrors } from "../lib/form-errors.ts";
import {
  type Combinator,
  type ConditionRow,
  type ConditionRows,
  emptyRow,
  rowPath,
  rowsOf,
  treeOf,
} from "./conditions.ts";

type Validation = typeof import("./validation.ts");
let validation: Promise<Validation> | undefined;
/** The edge's schemas, fetched once when a form is first checked. */
export function loadValidation(): Promise<Validation> {
  validation ??= import("./validation.ts").catch((failure: unknown) => {
    // Not kept: the next check loads it again.
    validation = undefined;
    throw failure;
  });
  return validation;
}

export const LIMIT_PERIOD_CHOICES: readonly { per: LimitPeriod; text: string }[] = [
  { per: "day", text: "a day" },
  { per: "week", text: "a week" },
  { per: "month", text: "a month" },
  { per: "lifetime", text: "ever" },
];

export interface RuleForm {
  _id: string;
  label: string;
  event_type: string;
  points: string;
  active: boolean;
  combinator: Combinator;
  rows: ConditionRow[];
  /** The condition as JSON text, when it is edited so (a tree the rows cannot hold). */
  json: string | null;
  limited: boolean;
  limitMax: string;
  limitPer: LimitPeriod;
  limitKey: string;
  /** The group's `_id`, "" for none. */
  group: string;
}

export const EMPTY_FORM: RuleForm = {
  _id: "",
  label: "",
  event_type: "",
  points: "",
  active: true,
  combinator: "all",
  rows: [],
  json: null,
  limited: false,
  limitMax: "1",
  limitPer: "day",
  limitKey: "",
  group: "",
};

/** Where the form shows errors, besides each condition row's fields. */
const PLACES = [
  "_id",
  "label",
  "event_type",
  "points",
  "active",
  "group",
  "limit",
  "limit.max",
  "limit.per",
  "limit.key",
  "where",
] as const;
const ROW_PARTS = ["", ".field", ".op", ".value", ".case"] as const;

export interface FormErrors {
  /** Problems by the path the form shows them at (`points`, `limit.max`, `where.all[2].value`). */
  at: Record<string, string>;
  form: string[];
}
const NO_ERRORS: FormErrors = { at: {}, form: [] };

/** Why a write was not sent: the session does not hold the admin token. */
export const ADMIN_NEEDED = "Sign in with the admin token to change rules";

/** The event type alphabet of the contract: 1–64 of `[a-z0-9_]`. */
const EVENT_TYPE = /^[a-z0-9_]{1,64}$/;

/** Whole number text to a number, or null when it is not one (range is the API's to judge). */
export function parsePoints(text: string): number | null {
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : null;
}

/** The form of an existing rule; a condition the rows cannot hold is shown as JSON. */
export function formOf(rule: RuleItem): RuleForm {
  const rows = rowsOf(rule.where);
  return {
    _id: rule._id,
    label: rule.label,
    event_type: rule.event_type,
    points: String(rule.points),
    active: rule.active,
    combinator: rows?.combinator ?? "all",
    rows: rows?.rows ?? [],
    json: rows ? null : JSON.stringify(rule.where, null, 2),
    limited: rule.limit !== undefined,
    limitMax: String(rule.limit?.max ?? 1),
    limitPer: rule.limit?.per ?? "day",
    limitKey: rule.limit?.key ?? "",
    group: rule.group ?? "",
  };
}

/** Every path the form can show an error at. */
export function errorPlaces(form: RuleForm): string[] {
  if (form.json !== null) return [...PLACES];
  const rows: ConditionRows = { combinator: form.combinator, rows: form.rows };
  const paths = form.rows.flatMap((_, index) => ROW_PARTS.map((part) => `${rowPath(rows, index)}${part}`));
  return [...PLACES, ...paths];
}

/** A rule as the form says it, for the schema and the API (`where`, `limit`, `group` absent when not set). */
export interface BuiltRule {
  body: Record<string, unknown>;
  where: Condition | undefined;
  /** Problems found before the schema is asked (empty fields, JSON that does not parse). */
  problems: FieldDetail[];
}

export function buildRule(form: RuleForm): BuiltRule {
  const problems: FieldDetail[] = [];
  const eventType = form.event_type.trim();
  if (eventType === "") problems.push({ path: "event_type", message: "Enter the event type, e.g. webinar_attended" });
  else if (!EVENT_TYPE.test(eventType))
    problems.push({ path: "event_type", message: "Use 1 to 64 lowercase letters, digits or underscores" });
  const points = parsePoints(form.points);
  if (points === null) problems.push({ path: "points", message: "Enter a whole number between −1000 and 1000" });
  let where: Condition | undefined;
  if (form.json !== null) {
    try {
      where = form.json.trim() === "" ? undefined : (JSON.parse(form.json) as Condition);
    } catch (failure) {
      problems.push({ path: "where", message: `is not valid JSON (${(failure as Error).message})` });
    }
  } else where = treeOf({ combinator: form.combinator, rows: form.rows });
  const max = form.limitMax.trim();
  const body: Record<string, unknown> = {
    ...(form._id.trim() ? { _id: form._id.trim() } : {}),
    ...(form.label.trim() ? { label: form.label.trim() } : {}),
    event_type: eventType,
    ...(where !== undefined ? { where } : {}),
    points: points ?? form.points,
    ...(form.limited
      ? {
          limit: {
            max: /^\d+$/.test(max) ? Number(max) : max,
            per: form.limitPer,
            ...(form.limitKey.trim() ? { key: form.limitKey.trim() } : {}),
          },
        }
      : {}),
    ...(form.group ? { group: form.group } : {}),
    active: form.active,
  };
  return { body, where, problems };
}

/** Problems of the form's own checks first; the schema's are added where no problem is said yet. */
function mergeProblems(own: readonly FieldDetail[], schema: readonly FieldDetail[]): FieldDetail[] {
  const said = new Set(own.map((problem) => problem.path));
  return [...own, ...schema.filter((problem) => !said.has(problem.path))];
}

export const RuleEditorModel = createModel(
  (deps: {
    api: Pick<Api, "createRule" | "updateRule">;
    /** The admin token of the session, "" when it holds a read token. */
    token: ReadonlySignal<string>;
    /** Called with each rule written, as the API returned it. */
    onSaved?: (rule: RuleItem, created: boolean) => void;
    /** Called when the admin token was missing or refused, with what to say. */
    onTokenProblem?: (message: string) => void;
    /** The groups a rule may join. */
    groups?: ReadonlySignal<readonly RuleGroupItem[]>;
  }) => {
    const form = signal<RuleForm>({ ...EMPTY_FORM }, { name: "ruleEditor.form" });
    /** The `_id` of the rule being edited; null while the form makes a new one. */
    const editing = signal<string | null>(null, { name: "ruleEditor.editing" });
    const errors = signal<FormErrors>(NO_ERRORS, { name: "ruleEditor.errors" });
    const saving = signal(false, { name: "ruleEditor.saving" });

    function clearAt(...paths: string[]) {
      const present = paths.filter((path) => path in errors.value.at);
      if (present.length === 0) return;
      const at = { ...errors.value.at };
      for (const path of present) delete at[path];
      errors.value = { ...errors.value, at };
    }

    function setForm(change: Partial<RuleForm>) {
      form.value = { ...form.value, ...change };
    }

    /** Rows change their paths when one is added or removed: their errors no longer say where. */
    function clearRowErrors() {
      clearAt(...Object.keys(errors.value.at).filter((path) => path.startsWith("where")));
    }

    function updateRow(key: number, change: Partial<ConditionRow>) {
      const index = form.value.rows.findIndex((row) => row.key === key);
      if (index < 0) return;
      const path = rowPath({ combinator: form.value.combinator, rows: form.value.rows }, index);
      clearAt(path, ...ROW_PARTS.map((part) => `${path}${part}`));
      setForm({ rows: form.value.rows.map((row) => (row.key === key ? { ...row, ...change } : row)) });
    }

    return {
      form,
      editing,
      errors,
      saving,
      /** The groups a rule may join. */
      groups: deps.groups ?? signal<readonly RuleGroupItem[]>([]),
      /** The condition as the rows make it (or the JSON says it), for the page's preview. */
      where: computed(() => buildRule(form.value).where),
      set<K extends keyof RuleForm>(key: K, value: RuleForm[K]) {
        setForm({ [key]: value } as Partial<RuleForm>);
        clearAt(
          key === "limitMax" ? "limit.max" : key === "limitPer" ? "limit.per" : key === "limitKey" ? "limit.key" : key,
        );
        if (key === "limited") clearAt("limit", "limit.max", "limit.per", "limit.key");
        if (key === "combinator") clearRowErrors();
      },
      addRow(field = "") {
        setForm({ rows: [...form.value.rows, emptyRow(field)] });
        clearRowErrors();
      },
      updateRow,
      removeRow(key: number) {
        setForm({ rows: form.value.rows.filter((row) => row.key !== key) });
        clearRowErrors();
      },
      /** Edits the condition as JSON text (any tree the edge takes). */
      useJson() {
        const where = buildRule(form.value).where;
        setForm({ json: where === undefined ? "" : JSON.stringify(where, null, 2) });
        clearRowErrors();
      },
      /** Back to rows, when the JSON is a tree they can hold; otherwise says why at the condition. */
      useRows() {
        const text = form.value.json ?? "";
        let rows: ConditionRows | null;
        try {
          rows = rowsOf(text.trim() === "" ? undefined : (JSON.parse(text) as Condition));
        } catch {
          rows = null;
        }
        if (!rows) {
          errors.value = {
            ...errors.value,
            at: { ...errors.value.at, where: "Only a list of conditions joined by all or any can be shown as rows" },
          };
          return;
        }
        setForm({ json: null, combinator: rows.combinator, rows: rows.rows });
        clearRowErrors();
      },
      /** Opens an existing rule in the form. */
      edit(rule: RuleItem) {
        batch(() => {
          form.value = formOf(rule);
          editing.value = rule._id;
          errors.value = NO_ERRORS;
        });
      },
      /** An empty form for a new rule. */
      startNew() {
        batch(() => {
          form.value = { ...EMPTY_FORM };
          editing.value = null;
          errors.value = NO_ERRORS;
        });
      },
      /** Checks the rule as the edge would, then creates or saves it. */
      async submit() {
        if (saving.value) return;
        const current = form.value;
        const built = buildRule(current);
        const { parseRule } = await loadValidation();
        const checked = parseRule(built.body);
        const problems = mergeProblems(built.problems, checked.ok ? [] : checked.details);
        if (problems.length > 0 || !checked.ok) {
          errors.value = placeErrors(problems, errorPlaces(current));
          return;
        }
        const token = deps.token.value.trim();
        if (!token) {
          errors.value = { at: {}, form: [ADMIN_NEEDED] };
          deps.onTokenProblem?.(ADMIN_NEEDED);
          return;
        }
        const id = editing.value;
        const { _id, where, limit, group, ...fields } = checked.value;
        saving.value = true;
        errors.value = NO_ERRORS;
        try {
          const rule =
            id === null
              ? await deps.api.createRule(checked.value, token)
              : // What the form leaves empty is removed from the rule.
                await deps.api.updateRule(
                  id,
                  { ...fields, where: where ?? null, limit: limit ?? null, group: group ?? null },
                  token,
                );
          batch(() => {
            form.value = { ...EMPTY_FORM };
            editing.value = null;
          });
          deps.onSaved?.(rule, id === null);
        } catch (failure) {
          errors.value = ruleErrors(failure, errorPlaces(current), id === null);
          if (failure instanceof ApiRequestError && (failure.status === 401 || failure.status === 403)) {
            deps.onTokenProblem?.(`${failure.message} — sign in again with the admin token`);
          }
        } finally {
          saving.value = false;
        }
      },
    };
  },
);
export type RuleEditorModel = InstanceType<typeof RuleEditorModel>;

/** What a refused rule write says, placed at the fields its paths name. */
export function ruleErrors(failure: unknown, places: readonly string[], creating: boolean): FormErrors {
  if (!(failure instanceof ApiRequestError)) return { at: {}, form: [(failure as Error).message] };
  if (failure.status === 401 || failure.status === 403) {
    return { at: {}, form: [`Not ${creating ? "created" : "saved"}: the admin token was refused`] };
  }
  // A conflict is a second rule of a type without a condition (at event_type) or an id taken (at _id): the
  // message says which rule is in the way.
  if (failure.status === 409) {
    const path = failure.details.find((detail) => places.includes(detail.path))?.path ?? "event_type";
    return { at: { [path]: failure.message }, form: [] };
  }
  const placed = placeErrors(failure.details, places);
  if (failure.details.length === 0) placed.form.push(failure.message);
  return placed;
}
