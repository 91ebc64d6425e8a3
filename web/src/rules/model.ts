// Scoring rules: the list, in-place edits of label, points and active, and deletion (the whole rule is edited in the
// rule form). Writes carry the admin token of the session (signed in once for the browser).
import { batch, computed, createModel, effect, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type RuleItem } from "../lib/api.ts";
import { type MappedErrors, mapFieldErrors } from "../lib/form-errors.ts";
import { addView, createFading, timeout } from "../lib/reactions.ts";
import { ADMIN_NEEDED, parsePoints, RuleEditorModel } from "../rule-editor/model.ts";
import { RuleGroupsModel } from "../rule-groups/model.ts";
import { RuleSetDraftModel } from "../rule-set-draft/model.ts";
import { RuleTesterModel } from "../rule-tester/model.ts";

export { ADMIN_NEEDED, parsePoints };

export const RULE_FIELDS = ["event_type", "label", "points", "active"] as const;
export type RuleField = (typeof RULE_FIELDS)[number];
const SAVED_MS = 2500;
/** How long the "created" and "deleted" messages stay. */
export const MESSAGE_MS = 4000;

export interface RuleDraft {
  points: string;
  active: boolean;
  label: string;
}

/**
 * How each rule is named on the page (and to screen readers): by its event type, or, where several rules score
 * one type, by its type and label.
 */
export function ruleNames(rules: readonly RuleItem[]): Map<string, string> {
  const perType = new Map<string, number>();
  for (const rule of rules) perType.set(rule.event_type, (perType.get(rule.event_type) ?? 0) + 1);
  return new Map(
    rules.map((rule) => [
      rule._id,
      (perType.get(rule.event_type) ?? 0) > 1 ? `${rule.event_type}: ${rule.label}` : rule.event_type,
    ]),
  );
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

function draftOf(rule: RuleItem): RuleDraft {
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

    const sorted = computed(() =>
      [...rules.value].sort((a, b) => a.event_type.localeCompare(b.event_type) || a.label.localeCompare(b.label)),
    );

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
      /** The page's name of each rule, by `_id`. */
      names: computed(() => ruleNames(rules.value)),
      created,
      /** A rule written in the rule form: it takes its place in the list, which is read again. */
      written(rule: RuleItem, isNew: boolean) {
        batch(() => {
          replaceRule(rule);
          put(drafts, rule._id, undefined);
          if (isNew) created.value = rule.event_type;
          else saved.mark(rule._id, true);
        });
        void load();
      },
      /** Says that the admin token is missing or was refused. */
      tokenProblem(message: string) {
        tokenError.value = message;
      },
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

/** The models of the rules page: the list, the rule form, the groups and the tester, wired together. */
export interface RulesScreenModels {
  model: RulesModel;
  editor: RuleEditorModel;
  groups: RuleGroupsModel;
  tester: RuleTesterModel;
  draft: RuleSetDraftModel;
  /** The rule form as the draft uses it: the same form, writing into the draft. */
  draftEditor: RuleEditorModel;
}

export function createRulesScreen(deps: {
  api: Pick<
    Api,
    | "listRules"
    | "createRule"
    | "updateRule"
    | "deleteRule"
    | "testRules"
    | "listRuleGroups"
    | "createRuleGroup"
    | "updateRuleGroup"
    | "deleteRuleGroup"
    | "admin"
  >;
  token: ReadonlySignal<string>;
}): RulesScreenModels {
  const { api, token } = deps;
  const model = new RulesModel({ api, token });
  // A group renamed or deleted changes how the rules naming it read.
  const groups = new RuleGroupsModel({ api, token, onChange: () => void model.load() });
  const editor = new RuleEditorModel({
    api,
    token,
    groups: groups.groups,
    onSaved: (rule, created) => model.written(rule, created),
    onTokenProblem: (message) => model.tokenProblem(message),
  });
  // A published version changes the rules in force: the list shows them.
  const draft = new RuleSetDraftModel({ api, token, onPublished: () => void model.load() });
  const draftEditor = new RuleEditorModel({
    api: draft.writer,
    token,
    groups: computed(() => draft.draft.value?.groups ?? []),
    onSaved: () => draft.closeForm(),
    onTokenProblem: (message) => model.tokenProblem(message),
  });
  return { model, editor, groups, tester: new RuleTesterModel({ api, token }), draft, draftEditor };
}
