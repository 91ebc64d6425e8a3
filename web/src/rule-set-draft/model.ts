// The draft of the next rule set: started as a copy of the set in force, edited without touching what scores live,
// previewed over every stored event (a dry run in a worker, polled here until it ends), then published for new events.
// The versions list publishes an earlier version again, which is how a change is rolled back.
import type { Stage } from "@leadscore/contracts";
import { batch, computed, createModel, effect, type ReadonlySignal, signal } from "@preact/signals";
import { ApiRequestError, type RuleItem } from "../lib/api.ts";
import { formatInteger } from "../lib/format.ts";
import { timeout } from "../lib/reactions.ts";
import { ADMIN_NEEDED, parsePoints } from "../rule-editor/model.ts";
import {
  type Preview,
  type PreviewResult,
  type PublishMode,
  type RuleSetApi,
  type RuleSetDraft,
  type RuleSetVersion,
  ruleSets,
} from "./api.ts";
import { createDraftRuleWriter } from "./writer.ts";

/** How often a running preview is read again. */
export const PREVIEW_POLL_MS = 500;

export interface DraftRuleEdit {
  points: string;
  active: boolean;
}

const RUNNING: ReadonlySet<Preview["state"]> = new Set(["queued", "running"]);

function messageOf(failure: unknown): string {
  if (failure instanceof ApiRequestError && failure.details.length > 0) {
    return failure.details.map((detail) => `${detail.path}: ${detail.message}`).join("; ");
  }
  return (failure as Error).message;
}

export const STAGES: readonly Stage[] = ["cold", "warm", "hot", "qualified"];

export function plural(count: number, one: string, many: string): string {
  return `${formatInteger(count)} ${count === 1 ? one : many}`;
}

/** The preview's headline: what publishing the draft would do to the leads there are. */
export function previewSummary(result: PreviewResult): string {
  const qualified = STAGES.filter((stage) => stage !== "qualified").reduce(
    (sum, stage) => sum + (result.matrix[stage]?.qualified ?? 0),
    0,
  );
  return [
    `${plural(result.changed, "lead changes", "leads change")}`,
    plural(qualified, "becomes qualified", "become qualified"),
    `${plural(result.webhooks, "webhook would fire", "webhooks would fire")}`,
  ].join(", ");
}

/** The share of a preview done, 0..1: events read, then folded, each counting once. */
export function previewShare(preview: Preview): number {
  if (preview.state === "done") return 1;
  const { events_total, events_read, events_done } = preview.progress;
  if (events_total <= 0) return 0;
  return Math.min(1, (events_read + events_done) / (2 * events_total));
}

export const RuleSetDraftModel = createModel(
  (deps: {
    api: RuleSetApi;
    /** The admin token of the session, "" when it holds a read token. */
    token: ReadonlySignal<string>;
    /** Called when a version was published: the rules in force changed. */
    onPublished?: (version: RuleSetVersion) => void;
  }) => {
    const draft = signal<RuleSetDraft | null>(null, { name: "ruleSetDraft.draft" });
    const status = signal<"idle" | "loading" | "ready" | "error">("idle", { name: "ruleSetDraft.status" });
    const error = signal<string | null>(null, { name: "ruleSetDraft.error" });
    const edits = signal<Record<string, DraftRuleEdit>>({}, { name: "ruleSetDraft.edits" });
    const saving = signal(false, { name: "ruleSetDraft.saving" });
    const saved = signal(false, { name: "ruleSetDraft.saved" });
    const preview = signal<Preview | null>(null, { name: "ruleSetDraft.preview" });
    const previewError = signal<string | null>(null, { name: "ruleSetDraft.previewError" });
    const versions = signal<RuleSetVersion[]>([], { name: "ruleSetDraft.versions" });
    const publishing = signal<number | "draft" | null>(null, { name: "ruleSetDraft.publishing" });
    const published = signal<RuleSetVersion | null>(null, { name: "ruleSetDraft.published" });
    /** True while the page's rule form writes into the draft (the live form is put away meanwhile). */
    const formOpen = signal(false, { name: "ruleSetDraft.formOpen" });

    function token(): string | null {
      const value = deps.token.value.trim();
      if (!value) error.value = ADMIN_NEEDED;
      return value || null;
    }

    /** The draft's rules with the edits not yet saved applied, or the problems that stop them. */
    const edited = computed((): { rules: RuleItem[]; problems: string[] } => {
      const current = draft.value;
      if (!current) return { rules: [], problems: [] };
      const problems: string[] = [];
      const rules = current.rules.map((rule) => {
        const edit = edits.value[rule._id];
        if (!edit) return rule;
        const points = parsePoints(edit.points);
        if (points === null) {
          problems.push(`${rule._id}: points must be a whole number`);
          return rule;
        }
        return { ...rule, points, active: edit.active };
      });
      return { rules, problems };
    });

    const dirty = computed(() => {
      const current = draft.value;
      if (!current) return false;
      return edited.value.rules.some((rule, index) => {
        const before = current.rules[index];
        return before === undefined || rule.points !== before.points || rule.active !== before.active;
      });
    });

    async function loadVersions(admin: string) {
      versions.value = await ruleSets.versions(deps.api, admin);
    }

    /** The draft there is, or what `missing` makes when there is none. */
    function draftOr(admin: string, missing: () => Promise<RuleSetDraft | null>): Promise<RuleSetDraft | null> {
      return ruleSets.draft(deps.api, admin).catch((failure: unknown) => {
        if (failure instanceof ApiRequestError && failure.status === 404) return missing();
        throw failure;
      });
    }

    /** Shows the draft a read brings (its unsaved edits dropped), or why it could not be read. */
    async function show(read: Promise<RuleSetDraft | null>) {
      status.value = "loading";
      try {
        const current = await read;
        batch(() => {
          draft.value = current;
          edits.value = {};
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        batch(() => {
          status.value = "error";
          error.value = messageOf(failure);
        });
      }
    }

    /** One publish at a time: the version made is said, the rules page told, the versions read again. */
    async function publish(
      which: number | "draft",
      call: (admin: string) => Promise<RuleSetVersion>,
      after: () => void = () => {},
    ) {
      const admin = token();
      if (!admin || publishing.value !== null) return;
      publishing.value = which;
      try {
        const version = await call(admin);
        batch(() => {
          published.value = version;
          error.value = null;
          after();
        });
        deps.onPublished?.(version);
        await loadVersions(admin);
      } catch (failure) {
        error.value = messageOf(failure);
      } finally {
        publishing.value = null;
      }
    }

    // A preview that has not ended is read again, until it ends or the model is disposed.
    effect(() => {
      const current = preview.value;
      if (!current || !RUNNING.has(current.state)) return;
      return timeout(() => {
        const admin = deps.token.peek().trim();
        if (!admin) return;
        ruleSets.preview(deps.api, admin, current.id).then(
          (next) => {
            if (preview.peek()?.id === next.id) preview.value = next;
          },
          (failure: unknown) => {
            // One failed read (a restart, a blip) is tried again by setting the same preview anew.
            previewError.value = messageOf(failure);
            if (preview.peek()?.id === current.id) preview.value = { ...current };
          },
        );
      }, PREVIEW_POLL_MS);
    });

    return {
      draft,
      status,
      error,
      edits,
      saving,
      saved,
      dirty,
      /** Problems in the edits that keep them from being saved. */
      problems: computed(() => edited.value.problems),
      preview,
      previewError,
      /** True while the preview is queued or running. */
      previewRunning: computed(() => preview.value !== null && RUNNING.has(preview.value.state)),
      versions,
      publishing,
      published,
      formOpen,
      /** The rule form's writes, made into the draft (a PUT of the whole set each). */
      writer: createDraftRuleWriter({
        current: () => draft.peek(),
        async save(rules, admin) {
          const current = draft.peek();
          if (!current) throw new ApiRequestError(404, "NOT_FOUND", "there is no draft");
          const next = await ruleSets.saveDraft(deps.api, admin, { ...current, rules });
          draft.value = next;
          return next;
        },
      }),
      openForm() {
        formOpen.value = true;
      },
      closeForm() {
        formOpen.value = false;
      },
      /** Reads the draft (none yet is no error) and the versions. */
      async load() {
        const admin = deps.token.value.trim();
        if (!admin) return;
        await show(Promise.all([draftOr(admin, async () => null), loadVersions(admin)]).then(([current]) => current));
      },
      /** Opens the draft there is, or starts one as a copy of the set in force. */
      async editAsDraft() {
        const admin = token();
        if (!admin) return;
        await show(draftOr(admin, () => ruleSets.startDraft(deps.api, admin)));
      },
      edit(id: string, change: Partial<DraftRuleEdit>) {
        const rule = draft.value?.rules.find((item) => item._id === id);
        if (!rule) return;
        const before = edits.value[id] ?? { points: String(rule.points), active: rule.active };
        batch(() => {
          edits.value = { ...edits.value, [id]: { ...before, ...change } };
          saved.value = false;
        });
      },
      /** Writes the whole draft with the edits; nothing live changes. */
      async save() {
        const current = draft.value;
        if (!current || edited.value.problems.length > 0) return;
        const admin = token();
        if (!admin) return;
        saving.value = true;
        try {
          const next = await ruleSets.saveDraft(deps.api, admin, { ...current, rules: edited.value.rules });
          batch(() => {
            draft.value = next;
            edits.value = {};
            saved.value = true;
            error.value = null;
          });
        } catch (failure) {
          error.value = messageOf(failure);
        } finally {
          saving.value = false;
        }
      },
      /** Starts a dry run of the saved draft over every stored event. */
      async startPreview() {
        const admin = token();
        if (!admin) return;
        previewError.value = null;
        try {
          preview.value = await ruleSets.startPreview(deps.api, admin);
        } catch (failure) {
          previewError.value = messageOf(failure);
        }
      },
      async cancelPreview() {
        const current = preview.value;
        const admin = token();
        if (!current || !admin) return;
        try {
          preview.value = await ruleSets.cancelPreview(deps.api, admin, current.id);
        } catch (failure) {
          previewError.value = messageOf(failure);
        }
      },
      /** Publishes the draft, for new events only or re-scoring every lead too; the draft is used up. */
      publishDraft: (mode: PublishMode = "forward") =>
        publish(
          "draft",
          (admin) => ruleSets.publishDraft(deps.api, admin, mode),
          () => {
            draft.value = null;
            edits.value = {};
            preview.value = null;
          },
        ),
      /** Puts an earlier version back in force, as the next version (a rollback), for new events only or every lead. */
      publishVersion: (number: number, mode: PublishMode = "forward") =>
        publish(number, (admin) => ruleSets.publishVersion(deps.api, admin, number, mode)),
    };
  },
);
export type RuleSetDraftModel = InstanceType<typeof RuleSetDraftModel>;
