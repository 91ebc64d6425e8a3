// One lead: its profile, its score over time (the compact series the chart plots), its score history (newest first,
// paged) and live changes through the lead's room.
import type { ScoreUpdate, Stage } from "@leadscore/contracts";
import { batch, computed, createModel, effect, type ReadonlySignal, signal } from "@preact/signals";
import {
  type Api,
  ApiRequestError,
  type Breakdown,
  type HistoryItem,
  type ProfileEdit,
  type RankedLead,
  type RuleGroupItem,
  type RuleItem,
  type ScoreSeries,
  type ScoreSpan,
  type StoredEvent,
} from "../lib/api.ts";
import { type DecayClock, decayedRows, heardAtOf, NO_DECAY, shownScore } from "../lib/decay.ts";
import { type MappedErrors, mapFieldErrors } from "../lib/form-errors.ts";
import { addView, createFading, interval, timeout } from "../lib/reactions.ts";
import type { Realtime } from "../lib/realtime.ts";

export const HISTORY_PAGE = 50;
/** Most history entries re-read at once after a live change. */
const MAX_RELOAD = 200;
/** Live changes arriving together are followed by one re-read. */
const RELOAD_DELAY_MS = 250;
const NEW_ENTRY_MS = 4000;
/** While the socket is down, the lead is read again this often. */
export const POLL_INTERVAL_MS = 5000;

export const PROFILE_FIELDS = ["name", "email", "company"] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
export type ProfileDraft = Record<ProfileField, string>;

/** An opened history entry: its stored event (with metadata), read when first opened. */
export type EventDetails =
  | { status: "loading" }
  | { status: "ready"; event: StoredEvent }
  | { status: "error"; message: string };

/** `invalid`: the address names no possible lead (the API refused the id), so trying again cannot help. */
export type DetailStatus = "loading" | "ready" | "not-found" | "invalid" | "error";
export type ReadStatus = "loading" | "ready" | "error";

/** Buckets the chart asks for: one per unit of its width. */
export const CHART_BUCKETS = 600;

/** What the score did over a run of entries, its times in epoch ms. */
export type ChartSpan = Omit<ScoreSpan, "from" | "to"> & { from: number; to: number };

/** A stage the score entered, and when (within its span when the span holds several entries). */
export interface StageMark {
  at: number;
  stage: Stage;
}

export type Thresholds = ScoreSeries["thresholds"];

/** The spans of the score-over-time chart, oldest first, from the lead's score series. */
export function chartSpans(series: ScoreSeries): ChartSpan[] {
  return series.spans
    .map((span) => ({ ...span, from: Date.parse(span.from), to: Date.parse(span.to) }))
    .filter((span) => !Number.isNaN(span.from) && !Number.isNaN(span.to))
    .sort((a, b) => a.from - b.from);
}

export function stageOf(score: number, thresholds: Thresholds): Stage {
  if (score >= thresholds.qualified) return "qualified";
  if (score >= thresholds.hot) return "hot";
  if (score >= thresholds.warm) return "warm";
  return "cold";
}

/** Where the score's stage changed: at a span's first entry, or by its last (from a score of 0, cold). */
export function stageMarks(spans: readonly ChartSpan[], thresholds: Thresholds): StageMark[] {
  const marks: StageMark[] = [];
  let stage = stageOf(0, thresholds);
  for (const span of spans) {
    for (const [at, score] of [
      [span.from, span.first],
      [span.to, span.last],
    ] as const) {
      const now = stageOf(score, thresholds);
      if (now !== stage) marks.push({ at, stage: now });
      stage = now;
    }
  }
  return marks;
}

/** One matched rule of a history entry, as its row shows it. */
export interface OutcomeLine {
  rule_id: string;
  /** The rule's label, else its id once the labels are read; null while they are still on their way. */
  name: string | null;
  group: string | null;
  asked: number;
  given: number;
  /** Why `given` differs from `asked`, in clamping order. */
  cuts: readonly string[];
}

/** How the lead page names rules and groups: labels by id, and each group's max. */
export interface RuleNames {
  rules: Map<string, string>;
  groups: Map<string, { label: string; max?: number }>;
}

/**
 * The labels of rules and groups, by id: the breakdown's where it gives them, else the current rules' and groups'
 * (a rule deleted since keeps its id).
 */
export function labelsOf(
  breakdown: Breakdown | null,
  current: { rules: readonly RuleItem[]; groups: readonly RuleGroupItem[] } | null = null,
): RuleNames {
  const rules = new Map<string, string>();
  const groups = new Map<string, { label: string; max?: number }>();
  for (const rule of current?.rules ?? []) rules.set(rule._id, rule.label);
  for (const group of current?.groups ?? []) groups.set(group._id, { label: group.label, max: group.max });
  for (const rule of breakdown?.rules ?? []) if (rule.label) rules.set(rule.rule_id, rule.label);
  for (const group of breakdown?.groups ?? []) {
    const known = groups.get(group.group);
    groups.set(group.group, {
      label: group.label ?? known?.label ?? group.group,
      ...((group.max ?? known?.max) !== undefined ? { max: group.max ?? known?.max } : {}),
    });
  }
  return { rules, groups };
}

/**
 * The matched rules of an entry with their points asked and given; none for an entry of the v1 shape. Until the
 * labels are read (`settled`), a rule they do not name yet has no name: its id, often the event type again, would
 * show for a moment and then change.
 */
export function outcomeLines(entry: HistoryItem, labels: ReadonlyMap<string, string>, settled = true): OutcomeLine[] {
  return (entry.rules ?? []).map((outcome) => ({
    rule_id: outcome.rule_id,
    name: labels.get(outcome.rule_id) ?? (settled ? outcome.rule_id : null),
    group: outcome.group,
    asked: outcome.asked,
    given: outcome.given,
    cuts: outcome.cuts,
  }));
}

/** What tells history entries apart: an event's id, or for a decay entry (whose id names a stage) its id and time. */
export function entryKey(entry: Pick<HistoryItem, "event_id" | "timestamp" | "cause">): string {
  return entry.cause === "decay" ? `${entry.event_id}@${entry.timestamp}` : entry.event_id;
}

/** Merges a freshly read first page into the entries already shown, newest first, without duplicates. */
export function mergeHistory(fresh: readonly HistoryItem[], shown: readonly HistoryItem[]): HistoryItem[] {
  const keys = new Set(fresh.map(entryKey));
  return [...fresh, ...shown.filter((entry) => !keys.has(entryKey(entry)))];
}

/** One lead's page; `activate` keeps it live until the function it returns is called. */
export const LeadDetailModel = createModel(
  (
    deps: {
      api: Pick<
        Api,
        | "getLead"
        | "leadHistory"
        | "leadSeries"
        | "leadEvent"
        | "updateLead"
        | "leadBreakdown"
        | "listRules"
        | "listRuleGroups"
      >;
      realtime: Realtime;
      announce?: (text: string) => void;
      /** The session's admin token, which profile edits carry ("" when it holds a read token). */
      adminToken?: ReadonlySignal<string>;
      /** Score decay: the score is shown decayed to its instant, and the chart draws the curve (none by default). */
      decay?: DecayClock;
    },
    id: string,
  ) => {
    const lead = signal<RankedLead | null>(null, { name: "lead.profile" });
    const decay = deps.decay ?? NO_DECAY;
    /** When the lead's score was heard (a read's arrival, a live update's event time): decay runs from there. */
    const heardAt = signal(0, { name: "lead.heardAt" });
    /**
     * The lead whose live changes the page follows: the one asked for, or the lead it was merged into — which the
     * API answers for a merged id, and a `lead_merged` names while the page is open.
     */
    const followed = signal(id, { name: "lead.followed" });
    const status = signal<DetailStatus>("loading", { name: "lead.status" });
    const error = signal<string | null>(null, { name: "lead.error" });
    const history = signal<HistoryItem[]>([], { name: "lead.history" });
    const historyStatus = signal<ReadStatus>("loading", { name: "lead.historyStatus" });
    const historyError = signal<string | null>(null, { name: "lead.historyError" });
    const cursor = signal<string | null>(null, { name: "lead.cursor" });
    const loadingMore = signal(false, { name: "lead.loadingMore" });
    const fresh = createFading<true>(NEW_ENTRY_MS, "lead.fresh");
    const lastUpdate = signal<ScoreUpdate | null>(null, { name: "lead.lastUpdate" });
    const spans = signal<ChartSpan[]>([], { name: "lead.spans" });
    const thresholds = signal<Thresholds | null>(null, { name: "lead.thresholds" });
    const seriesStatus = signal<ReadStatus>("loading", { name: "lead.seriesStatus" });
    const seriesError = signal<string | null>(null, { name: "lead.seriesError" });
    const breakdown = signal<Breakdown | null>(null, { name: "lead.breakdown" });
    const breakdownStatus = signal<ReadStatus>("loading", { name: "lead.breakdownStatus" });
    const breakdownError = signal<string | null>(null, { name: "lead.breakdownError" });
    /** The current rules and groups, read once, for the labels the breakdown and history may leave out. */
    const ruleSet = signal<{ rules: RuleItem[]; groups: RuleGroupItem[] } | null>(null, { name: "lead.ruleSet" });
    /** The rules were read, or could not be: from then on a rule without a label is named by its id. */
    const ruleSetSettled = signal(false, { name: "lead.ruleSetSettled" });
    const details = signal<Record<string, EventDetails>>({}, { name: "lead.details" });
    const draft = signal<ProfileDraft | null>(null, { name: "lead.draft" });
    const adminToken = deps.adminToken ?? signal("", { name: "lead.adminToken" });
    const noErrors: MappedErrors<ProfileField | "token"> = { fields: {}, form: [] };
    const profileErrors = signal(noErrors, { name: "lead.profileErrors" });
    const savingProfile = signal(false, { name: "lead.savingProfile" });
    const views = signal<readonly object[]>([], { name: "lead.views" });
    const shown = computed(() => views.value.length > 0);
    /** Live changes arrived: the lead is read again RELOAD_DELAY_MS after the first of them. */
    const reloadDue = signal(false, { name: "lead.reloadDue" });
    let sequence = 0;
    let seriesSequence = 0;
    let breakdownSequence = 0;

    async function loadLead(quiet: boolean) {
      if (!quiet) status.value = "loading";
      try {
        const found = await deps.api.getLead(id);
        batch(() => {
          lead.value = found;
          heardAt.value = Date.now();
          followed.value = found._id;
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        if (quiet && lead.value !== null) return;
        batch(() => {
          const refused = failure instanceof ApiRequestError ? failure.status : 0;
          status.value = refused === 404 ? "not-found" : refused === 400 ? "invalid" : "error";
          error.value = (failure as Error).message;
        });
      }
    }

    /** Reads the newest entries again: a late event rewrites the scores of every entry after it. */
    async function loadHistory(quiet: boolean) {
      const mine = ++sequence;
      if (!quiet) historyStatus.value = "loading";
      const limit = Math.min(MAX_RELOAD, Math.max(HISTORY_PAGE, history.value.length));
      try {
        const page = await deps.api.leadHistory(id, { order: "desc", limit });
        if (mine !== sequence) return;
        batch(() => {
          const keepOlder = history.value.length > limit;
          history.value = keepOlder ? mergeHistory(page.items, history.value) : page.items;
          if (!keepOlder) cursor.value = page.next;
          historyStatus.value = "ready";
          historyError.value = null;
        });
      } catch (failure) {
        if (mine !== sequence || (quiet && historyStatus.value === "ready")) return;
        batch(() => {
          historyStatus.value = "error";
          historyError.value = (failure as Error).message;
        });
      }
    }

    /** Reads the score series again: the newest read wins, and a quiet one keeps the chart shown when it fails. */
    async function loadSeries(quiet: boolean) {
      const mine = ++seriesSequence;
      if (!quiet) seriesStatus.value = "loading";
      try {
        const series = await deps.api.leadSeries(id, CHART_BUCKETS);
        if (mine !== seriesSequence) return;
        batch(() => {
          spans.value = chartSpans(series);
          thresholds.value = series.thresholds;
          seriesStatus.value = "ready";
          seriesError.value = null;
        });
      } catch (failure) {
        if (mine !== seriesSequence || (quiet && seriesStatus.value === "ready")) return;
        batch(() => {
          seriesStatus.value = "error";
          seriesError.value = (failure as Error).message;
        });
      }
    }

    /** Reads the score by group and by rule again; a quiet read keeps what is shown when it fails. */
    async function loadBreakdown(quiet: boolean) {
      const mine = ++breakdownSequence;
      if (!quiet) breakdownStatus.value = "loading";
      try {
        const found = await deps.api.leadBreakdown(id);
        if (mine !== breakdownSequence) return;
        batch(() => {
          breakdown.value = found;
          breakdownStatus.value = "ready";
          breakdownError.value = null;
        });
      } catch (failure) {
        if (mine !== breakdownSequence || (quiet && breakdownStatus.value === "ready")) return;
        batch(() => {
          breakdownStatus.value = "error";
          breakdownError.value = (failure as Error).message;
        });
      }
    }

    /** Reads the rules and groups once; without them the page names rules by id. */
    async function loadRuleSet() {
      if (ruleSet.value !== null) return;
      try {
        const [rules, groups] = await Promise.all([deps.api.listRules(), deps.api.listRuleGroups()]);
        batch(() => {
          ruleSet.value = { rules, groups };
          ruleSetSettled.value = true;
        });
      } catch {
        // Labels only: ids stand in for them.
        ruleSetSettled.value = true;
      }
    }

    function readAgain() {
      void loadLead(true);
      void loadHistory(true);
      void loadSeries(true);
      void loadBreakdown(true);
    }

    function onScoreUpdate(update: ScoreUpdate) {
      if (update.lead_id !== followed.value) return;
      const current = lead.value;
      const known = history.value.some((entry) => entry.event_id === update.event_id);
      if (current) {
        batch(() => {
          lead.value = { ...current, current_score: update.current_score, stage: update.stage };
          heardAt.value = heardAtOf(update, current);
        });
      }
      // A snapshot repeats the newest known state (or one the read in flight will bring); only re-read when it tells
      // something new.
      if (update.snapshot && (known || historyStatus.value === "loading")) return;
      if (!update.snapshot) {
        lastUpdate.value = update;
        fresh.mark(update.event_id, true);
        const sign = update.delta >= 0 ? "+" : "−";
        deps.announce?.(
          `${update.event_type} ${sign}${Math.abs(update.delta)}: score ${shownScore(update.current_score)}, ${update.stage}`,
        );
      }
      reloadDue.value = true;
    }

    effect(() => {
      if (!shown.value || !reloadDue.value) return;
      return timeout(() => {
        reloadDue.value = false;
        readAgain();
      }, RELOAD_DELAY_MS);
    });
    effect(() => {
      if (shown.value) return deps.realtime.onScoreUpdate(onScoreUpdate);
    });
    effect(() => {
      if (shown.value) return decay.watch();
    });
    effect(() => {
      if (shown.value) return deps.realtime.subscribe(followed.value);
    });
    effect(() => {
      if (!shown.value) return;
      return deps.realtime.onLeadMerged((merged) => {
        if (merged.lead_id !== followed.peek()) return;
        followed.value = merged.into;
        readAgain();
      });
    });
    // Without the socket no change arrives: the page reads the lead again until it is back.
    effect(() => {
      if (!shown.value) return;
      return interval(() => {
        if (deps.realtime.status.value !== "live") readAgain();
      }, POLL_INTERVAL_MS);
    });

    return {
      id: signal(id, { name: "lead.id" }) as ReadonlySignal<string>,
      /** The lead with its rank; re-read after each of its live changes, so the rank follows the score. */
      lead,
      /** `lead` as shown: with score decay, its score decayed to the app's clock (rounded down when shown). */
      shownLead: computed(() => {
        const at = heardAt.value;
        return lead.value ? (decayedRows([lead.value], () => at, decay)[0] ?? null) : null;
      }),
      /** The half-life the chart decays the score with between events (null: none), and up to this instant. */
      halfLife: decay.halfLife,
      now: decay.now,
      status,
      error,
      history,
      historyStatus,
      historyError,
      hasMore: computed(() => cursor.value !== null),
      loadingMore,
      /** The chart: the lead's whole history from its score series, re-read after each of its live changes. */
      spans,
      /** Where each stage starts, as the series gave them (null before it is read). */
      thresholds,
      seriesStatus,
      seriesError,
      /**
       * When the lead was first seen: its first event's time (the series always starts with it), or, before the
       * series is read or without events, the profile's creation — whichever is earlier.
       */
      firstSeen: computed(() => {
        const created = lead.value?.created_at ? Date.parse(lead.value.created_at) : Number.NaN;
        const times = [spans.value[0]?.from ?? Number.NaN, created].filter((time) => !Number.isNaN(time));
        return times.length > 0 ? Math.min(...times) : null;
      }),
      /** Event ids that arrived live a moment ago. */
      fresh: computed(() => new Set(Object.keys(fresh.marks.value)) as ReadonlySet<string>),
      /** The last live change, for the page's announcement. */
      lastUpdate,
      /** "Why this score?": the score by group and by rule, re-read after each of the lead's live changes. */
      breakdown,
      breakdownStatus,
      breakdownError,
      /** Rule and group labels (and groups' maxima), by id. */
      labels: computed(() => labelsOf(breakdown.value, ruleSet.value)),
      /** Whether the labels are as complete as they will get (the rules read, or failed to be). */
      labelsSettled: ruleSetSettled,
      /** Opened history entries, by event id. */
      details,
      toggleDetails(eventId: string) {
        const { [eventId]: open, ...rest } = details.value;
        if (open) {
          details.value = rest;
          return;
        }
        details.value = { ...rest, [eventId]: { status: "loading" } };
        deps.api.leadEvent(id, eventId).then(
          (event) => {
            if (details.value[eventId]) details.value = { ...details.value, [eventId]: { status: "ready", event } };
          },
          (failure: Error) => {
            if (details.value[eventId]) {
              details.value = { ...details.value, [eventId]: { status: "error", message: failure.message } };
            }
          },
        );
      },
      /** The profile form, while it is open. */
      draft,
      /** The session's admin token, "" when it holds a read token: profile edits need it. */
      adminToken,
      profileErrors,
      savingProfile,
      editProfile() {
        const current = lead.value;
        draft.value = { name: current?.name ?? "", email: current?.email ?? "", company: current?.company ?? "" };
        profileErrors.value = noErrors;
      },
      cancelEdit() {
        draft.value = null;
        profileErrors.value = noErrors;
      },
      setDraft(field: ProfileField, value: string) {
        if (draft.value) draft.value = { ...draft.value, [field]: value };
        if (profileErrors.value.fields[field]) {
          const { [field]: _, ...rest } = profileErrors.value.fields;
          profileErrors.value = { ...profileErrors.value, fields: rest };
        }
      },
      async saveProfile() {
        const form = draft.value;
        if (!form || savingProfile.value) return;
        const token = adminToken.value.trim();
        if (!token) {
          profileErrors.value = { fields: { token: "Sign in with the admin token to edit the profile" }, form: [] };
          return;
        }
        // Only what changed is sent; a field emptied that had a value is cleared (null).
        const edit: ProfileEdit = {};
        for (const field of PROFILE_FIELDS) {
          const value = form[field].trim();
          if (value !== (lead.value?.[field] ?? "")) edit[field] = value === "" ? null : value;
        }
        if (Object.keys(edit).length === 0) {
          draft.value = null;
          return;
        }
        savingProfile.value = true;
        profileErrors.value = noErrors;
        try {
          const saved = await deps.api.updateLead(id, edit, token);
          batch(() => {
            if (lead.value)
              lead.value = { ...lead.value, name: saved.name, email: saved.email, company: saved.company };
            draft.value = null;
          });
          deps.announce?.("Profile saved");
        } catch (failure) {
          if (failure instanceof ApiRequestError && (failure.status === 401 || failure.status === 403)) {
            profileErrors.value = {
              fields: { token: `${failure.message} — sign in again with the admin token` },
              form: [],
            };
          } else if (failure instanceof ApiRequestError && failure.details.length > 0) {
            profileErrors.value = mapFieldErrors(failure.details, PROFILE_FIELDS);
          } else {
            profileErrors.value = { fields: {}, form: [(failure as Error).message] };
          }
        } finally {
          savingProfile.value = false;
        }
      },
      async loadMore() {
        if (cursor.value === null || loadingMore.value) return;
        loadingMore.value = true;
        try {
          const page = await deps.api.leadHistory(id, { order: "desc", limit: HISTORY_PAGE, cursor: cursor.value });
          batch(() => {
            history.value = mergeHistory(history.value, page.items);
            cursor.value = page.next;
            historyError.value = null;
          });
        } catch (failure) {
          historyError.value = (failure as Error).message;
        } finally {
          loadingMore.value = false;
        }
      },
      async reload() {
        await Promise.all([loadLead(false), loadHistory(false), loadSeries(false), loadBreakdown(false)]);
      },
      /** Reads the lead and keeps it live until the returned function is called. */
      activate() {
        void loadLead(lead.value !== null);
        void loadHistory(history.value.length > 0);
        void loadSeries(spans.value.length > 0);
        void loadBreakdown(breakdown.value !== null);
        void loadRuleSet();
        reloadDue.value = false;
        return addView(views, {});
      },
    };
  },
);
export type LeadDetailModel = InstanceType<typeof LeadDetailModel>;
