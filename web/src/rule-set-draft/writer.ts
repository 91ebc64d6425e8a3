// The rule form's two writes (create, change) made into the draft instead of the live rules: each is a PUT of the
// whole set with that one rule added or changed, so the form, its checks and its error places are the live form's.
import { type Api, ApiRequestError, type RuleItem } from "../lib/api.ts";
import type { RuleSetDraft } from "./api.ts";

export type RuleWriter = Pick<Api, "createRule" | "updateRule">;

/** "demo_request" → "Demo Request", as the API labels a rule written without one. */
export function labelFor(eventType: string): string {
  return eventType
    .split("_")
    .filter((word) => word.length > 0)
    .map((word) => (word[0] ?? "").toUpperCase() + word.slice(1))
    .join(" ");
}

/** An id no rule of the set has: the event type, else the event type numbered. */
function freeId(rules: readonly RuleItem[], eventType: string): string {
  const taken = new Set(rules.map((rule) => rule._id));
  if (!taken.has(eventType)) return eventType;
  let n = 2;
  while (taken.has(`${eventType}_${n}`)) n++;
  return `${eventType}_${n}`;
}

/** The edge names a rule's problems by its place in the set (`rules[3].points`); the form by the field alone. */
function atRule(failure: unknown, index: number): unknown {
  if (!(failure instanceof ApiRequestError)) return failure;
  const prefix = `rules[${index}].`;
  const details = failure.details.map((detail) =>
    detail.path.startsWith(prefix) ? { ...detail, path: detail.path.slice(prefix.length) } : detail,
  );
  return new ApiRequestError(failure.status, failure.code, failure.message, details);
}

export function createDraftRuleWriter(deps: {
  /** The draft as last saved. */
  current: () => RuleSetDraft | null;
  /** Writes the set with these rules; resolves with the draft saved. */
  save: (rules: RuleItem[], token: string) => Promise<RuleSetDraft>;
}): RuleWriter {
  async function write(rules: RuleItem[], index: number, token: string): Promise<RuleItem> {
    try {
      const saved = await deps.save(rules, token);
      return saved.rules[index] ?? (rules[index] as RuleItem);
    } catch (failure) {
      throw atRule(failure, index);
    }
  }

  function draft(): RuleSetDraft {
    const current = deps.current();
    if (!current) throw new ApiRequestError(404, "NOT_FOUND", "there is no draft: start one with Edit as draft");
    return current;
  }

  return {
    async createRule(rule, token) {
      const { rules } = draft();
      const created: RuleItem = {
        ...rule,
        _id: rule._id ?? freeId(rules, rule.event_type),
        label: rule.label ?? labelFor(rule.event_type),
      };
      return write([...rules, created], rules.length, token);
    },
    async updateRule(id, patch, token) {
      const { rules } = draft();
      const index = rules.findIndex((rule) => rule._id === id);
      if (index < 0) throw new ApiRequestError(404, "NOT_FOUND", `the draft has no rule ${id}`);
      const { where, limit, group, ...fields } = { ...(rules[index] as RuleItem), ...patch };
      const changed: RuleItem = {
        ...fields,
        ...(where ? { where } : {}),
        ...(limit ? { limit } : {}),
        ...(group ? { group } : {}),
      };
      return write(
        rules.map((rule, at) => (at === index ? changed : rule)),
        index,
        token,
      );
    },
  };
}
