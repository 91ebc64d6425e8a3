// One lead: its profile, its score over time (the compact series the chart plots), its score history (newest first,
// paged) and live changes through the lead's room.
import type { ScoreUpdate } from "@leadscore/contracts";
import { batch, computed, type ReadonlySignal, signal } from "@preact/signals";
import { type Api, ApiRequestError, type HistoryItem, type RankedLead, type ScorePoint } from "../lib/api.ts";
import type { Realtime } from "../lib/realtime.ts";

export const HISTORY_PAGE = 50;
/** Most history entries re-read at once after a live change. */
const MAX_RELOAD = 200;
/** Live changes arriving together are followed by one re-read. */
const RELOAD_DELAY_MS = 250;
const NEW_ENTRY_MS = 4000;

export type DetailStatus = "loading" | "ready" | "not-found" | "error";
export type ReadStatus = "loading" | "ready" | "error";

export interface ChartPoint {
  /** Event time, epoch ms. */
  t: number;
  score: number;
}

/** Points of the score-over-time chart, oldest first, from the lead's score series. */
export function chartPoints(series: readonly ScorePoint[]): ChartPoint[] {
  return series
    .map((point) => ({ t: new Date(point.timestamp).getTime(), score: point.score }))
    .filter((point) => !Number.isNaN(point.t))
    .sort((a, b) => a.t - b.t);
}

/** Merges a freshly read first page into the entries already shown, newest first, without duplicates. */
export function mergeHistory(fresh: readonly HistoryItem[], shown: readonly HistoryItem[]): HistoryItem[] {
  const ids = new Set(fresh.map((entry) => entry.event_id));
  return [...fresh, ...shown.filter((entry) => !ids.has(entry.event_id))];
}

export interface LeadDetailModel {
  readonly id: string;
  /** The lead with its rank; re-read after each of its live changes, so the rank follows the score. */
  readonly lead: ReadonlySignal<RankedLead | null>;
  readonly status: ReadonlySignal<DetailStatus>;
  readonly error: ReadonlySignal<string | null>;
  readonly history: ReadonlySignal<HistoryItem[]>;
  readonly historyStatus: ReadonlySignal<"loading" | "ready" | "error">;
  readonly historyError: ReadonlySignal<string | null>;
  readonly hasMore: ReadonlySignal<boolean>;
  readonly loadingMore: ReadonlySignal<boolean>;
  /** The chart: the lead's whole history from its score series, re-read after each of its live changes. */
  readonly points: ReadonlySignal<ChartPoint[]>;
  readonly pointsStatus: ReadonlySignal<ReadStatus>;
  readonly pointsError: ReadonlySignal<string | null>;
  /** The lead has more events than the chart has points: older events are sampled, not each shown. */
  readonly sampled: ReadonlySignal<boolean>;
  /** Event ids that arrived live a moment ago. */
  readonly fresh: ReadonlySignal<ReadonlySet<string>>;
  /** The last live change, for the page's announcement. */
  readonly lastUpdate: ReadonlySignal<ScoreUpdate | null>;
  loadMore(): Promise<void>;
  reload(): Promise<void>;
  activate(): () => void;
}

export function createLeadDetailModel(
  deps: {
    api: Pick<Api, "getLead" | "leadHistory" | "leadSeries">;
    realtime: Realtime;
    announce?: (text: string) => void;
  },
  id: string,
): LeadDetailModel {
  const lead = signal<RankedLead | null>(null, { name: "lead.profile" });
  const status = signal<DetailStatus>("loading", { name: "lead.status" });
  const error = signal<string | null>(null, { name: "lead.error" });
  const history = signal<HistoryItem[]>([], { name: "lead.history" });
  const historyStatus = signal<ReadStatus>("loading", { name: "lead.historyStatus" });
  const historyError = signal<string | null>(null, { name: "lead.historyError" });
  const cursor = signal<string | null>(null, { name: "lead.cursor" });
  const loadingMore = signal(false, { name: "lead.loadingMore" });
  const fresh = signal<ReadonlySet<string>>(new Set(), { name: "lead.fresh" });
  const lastUpdate = signal<ScoreUpdate | null>(null, { name: "lead.lastUpdate" });
  const points = signal<ChartPoint[]>([], { name: "lead.points" });
  const pointsStatus = signal<ReadStatus>("loading", { name: "lead.pointsStatus" });
  const pointsError = signal<string | null>(null, { name: "lead.pointsError" });
  let reloadTimer: ReturnType<typeof setTimeout> | null = null;
  let sequence = 0;
  let seriesSequence = 0;

  async function loadLead(quiet: boolean) {
    if (!quiet) status.value = "loading";
    try {
      const found = await deps.api.getLead(id);
      batch(() => {
        lead.value = found;
        status.value = "ready";
        error.value = null;
      });
    } catch (failure) {
      if (quiet && lead.value !== null) return;
      batch(() => {
        const missing = failure instanceof ApiRequestError && failure.status === 404;
        status.value = missing ? "not-found" : "error";
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
    if (!quiet) pointsStatus.value = "loading";
    try {
      const series = await deps.api.leadSeries(id);
      if (mine !== seriesSequence) return;
      batch(() => {
        points.value = chartPoints(series);
        pointsStatus.value = "ready";
        pointsError.value = null;
      });
    } catch (failure) {
      if (mine !== seriesSequence || (quiet && pointsStatus.value === "ready")) return;
      batch(() => {
        pointsStatus.value = "error";
        pointsError.value = (failure as Error).message;
      });
    }
  }

  function markFresh(eventId: string) {
    fresh.value = new Set([...fresh.value, eventId]);
    setTimeout(() => {
      const next = new Set(fresh.value);
      next.delete(eventId);
      fresh.value = next;
    }, NEW_ENTRY_MS);
  }

  function onScoreUpdate(update: ScoreUpdate) {
    if (update.lead_id !== id) return;
    const current = lead.value;
    const known = history.value.some((entry) => entry.event_id === update.event_id);
    if (current) lead.value = { ...current, current_score: update.current_score, stage: update.stage };
    // A snapshot repeats the newest known state (or one the read in flight will bring); only re-read when it tells
    // something new.
    if (update.snapshot && (known || historyStatus.value === "loading")) return;
    if (!update.snapshot) {
      lastUpdate.value = update;
      markFresh(update.event_id);
      const sign = update.delta >= 0 ? "+" : "−";
      deps.announce?.(
        `${update.event_type} ${sign}${Math.abs(update.delta)}: score ${update.current_score}, ${update.stage}`,
      );
    }
    if (reloadTimer !== null) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = null;
      void loadLead(true);
      void loadHistory(true);
      void loadSeries(true);
    }, RELOAD_DELAY_MS);
  }

  return {
    id,
    lead,
    status,
    error,
    history,
    historyStatus,
    historyError,
    hasMore: computed(() => cursor.value !== null),
    loadingMore,
    points,
    pointsStatus,
    pointsError,
    sampled: computed(() => (lead.value?.event_count ?? 0) > points.value.length),
    fresh,
    lastUpdate,
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
      await Promise.all([loadLead(false), loadHistory(false), loadSeries(false)]);
    },
    activate() {
      void loadLead(lead.value !== null);
      void loadHistory(history.value.length > 0);
      void loadSeries(points.value.length > 0);
      const stopUpdates = deps.realtime.onScoreUpdate(onScoreUpdate);
      const release = deps.realtime.subscribe(id);
      return () => {
        stopUpdates();
        release();
        if (reloadTimer !== null) clearTimeout(reloadTimer);
        reloadTimer = null;
      };
    },
  };
}
