// Scoring rules: the list, a form for a new rule, and in-place edits of points and active. Writes carry the admin
// token of the session (signed in once for the browser).
import type { Rule } from "@leadscore/contracts";
import { batch, computed, createModel, effect, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type RuleItem } from "../lib/api.ts";
import { type MappedErrors, mapFieldErrors } from "../lib/form-errors.ts";
import { addView, createFading, timeout } from "../lib/reactions.ts";

export const RULE_FIELDS = ["event_type", "label", "points", "active"] as const;
export type RuleField = (typeof RULE_FIELDS)[number];
/** Why a write was not sent: the session does not hold the admin token. */
export const ADMIN_NEEDED = "Sign in with the admin token to change rules";
const SAVED_MS = 2500;
/** How long the "created" and "deleted" messages stay. */
export const MESSAGE_MS = 4000;

export interface RuleDraft {
  points: string;
  active: boolean;
  label: string;
}

export interface NewRuleForm {
  event_type: string;
  label: string;
  points: string;
  active: boolean;
}

const EMPTY_RULE: NewRuleForm = { event_type: "", label: "", points: "", active: true };

/** The event type alphabet of the contract: 1–64 of `[a-z0-9_]`. */
const EVENT_TYPE = /^[a-z0-9_]{1,64}$/;

/** Whole number text to a number, or null when it is not one (range is the API's to judge). */
export function parsePoints(text: string): number | null {
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : null;
}

/** Errors of a refused rule write: the token, a field, or the form. */
export function ruleWriteErrors(failure: unknown): { token: string | null; errors: MappedErrors<RuleField> } {
  if (!(failure instanceof ApiRequestError))
    return { token: null, errors: { fields: {}, form: [(failure as Error).message] } };
  if (failure.status === 401 || failure.status === 403) {
    return { token: `${failure.message} — sign in again with the admin token`, errors: { fields: {}, form: [] } };
  }
  if (failure.status === 409) {
    return { token: null, errors: { fields: { event_type: failure.message }, form: [] } };
  }
  const errors = mapFieldErrors(failure.details, RULE_FIELDS);
  if (failure.details.length === 0) errors.form.push(failure.message);
  return { token: null, errors };
}

function draftOf(rule: Rule): RuleDraft {
  return { points: String(rule.points), active: rule.active, label: rule.label };
}

/** The rules page; `activate` reads the list, and again whenever the page regains focus, until it is stopped. */
export const RulesModel = createModel(
  (deps: {
    api: Pick<Api, "listRules" | "createRule" | "updateRule" | "deleteRule">;
    /** The admin token of the session, "" when it holds a read token. */
    token: ReadonlySignal<string>;
  }) => {
    const rules = signal<RuleItem[]>([], { name: "rules.list" });
    const status = signal<"loading" | "ready" | "error">("loading", { name: "rules.status" });
    const error = signal<string | null>(null, { name: "rules.error" });
    const tokenError = signal<string | null>(null, { name: "rules.tokenError" });
    const drafts = signal<Record<string, RuleDraft>>({}, { name: "rules.drafts" });
    const rowErrors = signal<Record<string, string>>({}, { name: "rules.rowErrors" });
    const saving = signal<Record<string, boolean>>({}, { name: "rules.saving" });
    const saved = createFading<true>(SAVED_MS, "rules.saved");
    const newRule = signal<NewRuleForm>({ ...EMPTY_RULE }, { name: "rules.new" });
    const createErrors = signal<MappedErrors<RuleField>>({ fields: {}, form: [] }, { name: "rules.createErrors" });
    const creating = signal(false, { name: "rules.creating" });
    const created = signal<string | null>(null, { name: "rules.created" });
    const deleted = signal<string | null>(null, { name: "rules.deleted" });
    const deleting = signal<Record<string, boolean>>({}, { name: "rules.deleting" });
    const views = signal<readonly object[]>([], { name: "rules.views" });
    const shown = computed(() => views.value.length > 0);
    let loadSequence = 0;

    /** Reads the list; only the newest read lands, and a failed one keeps the rules shown. */
    async function load() {
      const mine = ++loadSequence;
      if (rules.value.length === 0) status.value = "loading";
      try {
        const list = await deps.api.listRules();
        if (mine !== loadSequence) return;
        batch(() => {
          rules.value = list;
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        if (mine !== loadSequence || rules.value.length > 0) return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    const sorted = computed(() => [...rules.value].sort((a, b) => a.event_type.localeCompare(b.event_type)));

    function put<T>(target: Signal<Record<string, T>>, id: string, value: T | undefined) {
      const { [id]: _, ...rest } = target.value;
      target.value = value === undefined ? rest : { ...rest, [id]: value };
    }

    function requireToken(): string | null {
      const token = deps.token.value.trim();
      if (!token) tokenError.value = ADMIN_NEEDED;
      return token || null;
    }

    function replaceRule(rule: RuleItem) {
      const exists = rules.value.some((item) => item._id === rule._id);
      rules.value = exists ? rules.value.map((item) => (item._id === rule._id ? rule : item)) : [...rules.value, rule];
    }

    // A message stays for a while; a newer one replaces it.
    for (const message of [created, deleted]) {
      effect(() => {
        if (message.value !== null) return timeout(() => (message.value = null), MESSAGE_MS);
      });
    }
    // Another token (a sign-in, a sign-out) clears what was said about the one before.
    effect(() => {
      void deps.token.value;
      tokenError.value = null;
    });
    effect(() => {
      if (!shown.value) return;
      const onFocus = () => void load();
      const onVisible = () => {
        if (document.visibilityState === "visible") void load();
      };
      window.addEventListener("focus", onFocus);
      document.addEventListener("visibilitychange", onVisible);
      return () => {
        window.removeEventListener("focus", onFocus);
        document.removeEventListener("visibilitychange", onVisible);
      };
    });

    return {
      rules: sorted,
      status,
      error,
      token: deps.token,
      tokenError,
      drafts,
      rowErrors,
      saving,
      /** Rules saved a moment ago. */
      saved: saved.marks,
      newRule,
      createErrors,
      creating,
      created,
      /** Rules whose draft differs from what is saved. */
      dirty: computed(() => {
        const ids = new Set<string>();
        for (const rule of rules.value) {
          const draft = drafts.value[rule._id];
          const differs =
            draft !== undefined &&
            (draft.points !== String(rule.points) || draft.active !== rule.active || draft.label.trim() !== rule.label);
          if (differs) ids.add(rule._id);
        }
        return ids as ReadonlySet<string>;
      }),
      edit(id: string, change: Partial<RuleDraft>) {
        const rule = rules.value.find((item) => item._id === id);
        if (!rule) return;
        put(drafts, id, { ...(drafts.value[id] ?? draftOf(rule)), ...change });
        put(rowErrors, id, undefined);
        saved.unmark(id);
      },
      async save(id: string) {
        const rule = rules.value.find((item) => item._id === id);
        const draft = drafts.value[id];
        if (!rule || !draft) return;
        const points = parsePoints(draft.points);
        const label = draft.label.trim();
        const problems = [
          points === null ? "Points must be a whole number" : null,
          label === "" ? "The label must not be empty" : null,
        ].filter((problem) => problem !== null);
        if (problems.length > 0 || points === null) {
          put(rowErrors, id, problems.join("; "));
          return;
        }
        const token = requireToken();
        if (!token) return;
        put(saving, id, true);
        try {
          // The label goes only when it changed, so a points edit never rewrites it.
          const change = { points, active: draft.active, ...(label !== rule.label ? { label } : {}) };
          const updated = await deps.api.updateRule(id, change, token);
          batch(() => {
            replaceRule({ ...rule, ...updated });
            put(drafts, id, undefined);
            put(rowErrors, id, undefined);
            saved.mark(id, true);
          });
          void load();
        } catch (failure) {
          const { token: tokenProblem, errors } = ruleWriteErrors(failure);
          batch(() => {
            if (tokenProblem) tokenError.value = tokenProblem;
            const message = [...Object.values(errors.fields), ...errors.form].join("; ");
            put(rowErrors, id, tokenProblem ? "Not saved: the admin token was refused" : message || "Not saved");
          });
          // Deleted or changed elsewhere: show what the server has now.
          if (failure instanceof ApiRequestError && failure.status === 404) void load();
        } finally {
          put(saving, id, undefined);
        }
      },
      setNew<K extends keyof NewRuleForm>(key: K, value: NewRuleForm[K]) {
        newRule.value = { ...newRule.value, [key]: value };
        created.value = null;
        if (key in createErrors.value.fields) {
          const { [key as RuleField]: _, ...rest } = createErrors.value.fields;
          createErrors.value = { ...createErrors.value, fields: rest };
        }
      },
      async create() {
        if (creating.value) return;
        const form = newRule.value;
        // Every problem at once, each beside its field.
        const points = parsePoints(form.points);
        const fields: MappedErrors<RuleField>["fields"] = {};
        const eventType = form.event_type.trim();
        if (eventType === "") fields.event_type = "Enter the event type, e.g. webinar_attended";
        else if (!EVENT_TYPE.test(eventType))
          fields.event_type = "Use 1 to 64 lowercase letters, digits or underscores";
        if (points === null) fields.points = "Enter a whole number between −1000 and 1000";
        if (Object.keys(fields).length > 0 || points === null) {
          createErrors.value = { fields, form: [] };
          return;
        }
        const token = requireToken();
        if (!token) return;
        creating.value = true;
        createErrors.value = { fields: {}, form: [] };
        try {
          const rule = await deps.api.createRule(
            {
              event_type: eventType,
              // Without a label the API derives one from the type ("webinar_attended" → "Webinar Attended").
              ...(form.label.trim() ? { label: form.label.trim() } : {}),
              points,
              active: form.active,
            },
            token,
          );
          batch(() => {
            replaceRule(rule);
            newRule.value = { ...EMPTY_RULE };
            created.value = rule.event_type;
          });
          void load();
        } catch (failure) {
          const { token: tokenProblem, errors } = ruleWriteErrors(failure);
          batch(() => {
            if (tokenProblem) tokenError.value = tokenProblem;
            createErrors.value = tokenProblem
              ? { fields: {}, form: ["Not created: the admin token was refused"] }
              : errors;
          });
        } finally {
          creating.value = false;
        }
      },
      deleted,
      deleting,
      async remove(id: string) {
        const rule = rules.value.find((item) => item._id === id);
        if (!rule || deleting.value[id]) return;
        const token = requireToken();
        if (!token) return;
        put(deleting, id, true);
        try {
          await deps.api.deleteRule(id, token);
          batch(() => {
            rules.value = rules.value.filter((item) => item._id !== id);
            put(drafts, id, undefined);
            put(rowErrors, id, undefined);
            deleted.value = rule.event_type;
          });
        } catch (failure) {
          const { token: tokenProblem, errors } = ruleWriteErrors(failure);
          batch(() => {
            if (tokenProblem) tokenError.value = tokenProblem;
            const message = [...Object.values(errors.fields), ...errors.form].join("; ");
            put(rowErrors, id, tokenProblem ? "Not deleted: the admin token was refused" : message || "Not deleted");
          });
        } finally {
          put(deleting, id, undefined);
        }
        void load();
      },
      /** Reads the list, and again whenever the page regains focus, until the returned function is called. */
      activate() {
        void load();
        return addView(views, {});
      },
      load,
    };
  },
);
export type RulesModel = InstanceType<typeof RulesModel>;
