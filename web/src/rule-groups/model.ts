// Rule groups: the points a group's rules add to one lead over its life never exceed its max. The list, in-place
// edits of label and max, a form for a new group, and deletion (refused by the edge while a rule is in the group).
import { batch, computed, createModel, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type FieldDetail, type RuleGroupItem } from "../lib/api.ts";
import { placeErrors } from "../lib/form-errors.ts";
import { ADMIN_NEEDED, type FormErrors, loadValidation } from "../rule-editor/model.ts";

export interface GroupForm {
  _id: string;
  label: string;
  max: string;
}
const EMPTY_GROUP: GroupForm = { _id: "", label: "", max: "" };
const NO_ERRORS: FormErrors = { at: {}, form: [] };
const PLACES = ["_id", "label", "max"];

/** A group as the form says it, for the schema: `max` a number when it reads as one. */
export function groupBody(form: GroupForm): Record<string, unknown> {
  const max = form.max.trim();
  return {
    ...(form._id.trim() ? { _id: form._id.trim() } : {}),
    label: form.label.trim(),
    max: /^-?\d+$/.test(max) ? Number(max) : max === "" ? undefined : max,
  };
}

/** Checks a group with the edge's schema: its problems by field, none when it may be sent. */
async function groupProblems(body: Record<string, unknown>): Promise<FieldDetail[]> {
  const { parseRuleGroup } = await loadValidation();
  const checked = parseRuleGroup(body);
  return checked.ok ? [] : checked.details;
}

/** What a refused group write says, by field. */
export function groupErrors(failure: unknown): FormErrors {
  if (!(failure instanceof ApiRequestError)) return { at: {}, form: [(failure as Error).message] };
  if (failure.status === 401 || failure.status === 403) {
    return { at: {}, form: [`${failure.message} — sign in again with the admin token`] };
  }
  // A group rules still name: the message lists them.
  if (failure.status === 409 && failure.details.every((detail) => !PLACES.includes(detail.path))) {
    return { at: {}, form: [failure.message] };
  }
  const placed = placeErrors(failure.details, PLACES);
  if (failure.details.length === 0) placed.form.push(failure.message);
  return placed;
}

function flatten(errors: FormErrors): string {
  return [...Object.values(errors.at), ...errors.form].join("; ");
}

export const RuleGroupsModel = createModel(
  (deps: {
    api: Pick<Api, "listRuleGroups" | "createRuleGroup" | "updateRuleGroup" | "deleteRuleGroup">;
    token: ReadonlySignal<string>;
    /** Called when a group is written or deleted: the rules naming it may show it differently. */
    onChange?: () => void;
  }) => {
    const groups = signal<RuleGroupItem[]>([], { name: "groups.list" });
    const status = signal<"loading" | "ready" | "error">("loading", { name: "groups.status" });
    const error = signal<string | null>(null, { name: "groups.error" });
    const drafts = signal<Record<string, GroupForm>>({}, { name: "groups.drafts" });
    const rowErrors = signal<Record<string, string>>({}, { name: "groups.rowErrors" });
    const busy = signal<Record<string, boolean>>({}, { name: "groups.busy" });
    const newGroup = signal<GroupForm>({ ...EMPTY_GROUP }, { name: "groups.new" });
    const createErrors = signal<FormErrors>(NO_ERRORS, { name: "groups.createErrors" });
    const creating = signal(false, { name: "groups.creating" });
    const message = signal<string | null>(null, { name: "groups.message" });
    let loadSequence = 0;

    function put<T>(target: Signal<Record<string, T>>, id: string, value: T | undefined) {
      const { [id]: _, ...rest } = target.value;
      target.value = value === undefined ? rest : { ...rest, [id]: value };
    }

    async function load() {
      const mine = ++loadSequence;
      try {
        const list = await deps.api.listRuleGroups();
        if (mine !== loadSequence) return;
        batch(() => {
          groups.value = list;
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        if (mine !== loadSequence || groups.value.length > 0) return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    function token(): string | null {
      const value = deps.token.value.trim();
      return value || null;
    }

    function replace(group: RuleGroupItem) {
      const exists = groups.value.some((item) => item._id === group._id);
      groups.value = exists
        ? groups.value.map((item) => (item._id === group._id ? group : item))
        : [...groups.value, group];
    }

    /** A write of one group's row with the admin token; what goes wrong is said on the row. */
    async function rowWrite(id: string, failed: string, write: (admin: string) => Promise<void>) {
      const admin = token();
      if (!admin) {
        put(rowErrors, id, ADMIN_NEEDED);
        return;
      }
      put(busy, id, true);
      try {
        await write(admin);
        deps.onChange?.();
      } catch (failure) {
        put(rowErrors, id, flatten(groupErrors(failure)) || failed);
      } finally {
        put(busy, id, undefined);
      }
    }

    return {
      groups: computed(() => [...groups.value].sort((a, b) => a.label.localeCompare(b.label))),
      status,
      error,
      drafts,
      rowErrors,
      busy,
      newGroup,
      createErrors,
      creating,
      /** What the last write did. */
      message,
      load,
      edit(id: string, change: Partial<GroupForm>) {
        const group = groups.value.find((item) => item._id === id);
        if (!group) return;
        const draft = drafts.value[id] ?? { _id: id, label: group.label, max: String(group.max) };
        put(drafts, id, { ...draft, ...change });
        put(rowErrors, id, undefined);
      },
      async save(id: string) {
        const draft = drafts.value[id];
        if (!draft || busy.value[id]) return;
        const { _id, ...body } = groupBody(draft);
        const problems = await groupProblems({ ...body, _id: id });
        if (problems.length > 0) {
          put(rowErrors, id, flatten(placeErrors(problems, PLACES)));
          return;
        }
        await rowWrite(id, "Not saved", async (admin) => {
          const saved = await deps.api.updateRuleGroup(id, body as Omit<RuleGroupItem, "_id">, admin);
          batch(() => {
            replace(saved);
            put(drafts, id, undefined);
            message.value = `Group ${saved.label} saved`;
          });
        });
      },
      async remove(id: string) {
        const group = groups.value.find((item) => item._id === id);
        if (!group || busy.value[id]) return;
        // Still in use, the edge refuses (409) and lists the rules that name it.
        await rowWrite(id, "Not deleted", async (admin) => {
          await deps.api.deleteRuleGroup(id, admin);
          batch(() => {
            groups.value = groups.value.filter((item) => item._id !== id);
            put(drafts, id, undefined);
            put(rowErrors, id, undefined);
            message.value = `Group ${group.label} deleted`;
          });
        });
      },
      setNew<K extends keyof GroupForm>(key: K, value: GroupForm[K]) {
        newGroup.value = { ...newGroup.value, [key]: value };
        message.value = null;
        if (key in createErrors.value.at) {
          const { [key]: _, ...rest } = createErrors.value.at;
          createErrors.value = { ...createErrors.value, at: rest };
        }
      },
      async create() {
        if (creating.value) return;
        const body = groupBody(newGroup.value);
        const problems = await groupProblems(body);
        if (problems.length > 0) {
          createErrors.value = placeErrors(problems, PLACES);
          return;
        }
        const admin = token();
        if (!admin) {
          createErrors.value = { at: {}, form: [ADMIN_NEEDED] };
          return;
        }
        creating.value = true;
        createErrors.value = NO_ERRORS;
        try {
          const group = await deps.api.createRuleGroup(body as Omit<RuleGroupItem, "_id">, admin);
          batch(() => {
            replace(group);
            newGroup.value = { ...EMPTY_GROUP };
            message.value = `Group ${group.label} created`;
          });
          deps.onChange?.();
        } catch (failure) {
          createErrors.value = groupErrors(failure);
        } finally {
          creating.value = false;
        }
      },
    };
  },
);
export type RuleGroupsModel = InstanceType<typeof RuleGroupsModel>;
