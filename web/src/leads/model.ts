// The lead table: filters (mirrored in the page's query string), cursor paging, and live scores for the rows shown.
import type { ScoreUpdate, Stage } from "@leadscore/contracts";
import { STAGES } from "@leadscore/contracts/stage";
import { batch, computed, createModel, effect, signal } from "@preact/signals";
import type { Api, Lead, LeadQuery, LeadSort } from "../lib/api.ts";
import { type DecayClock, decayedRows, heardAtOf, NO_DECAY, shownScore } from "../lib/decay.ts";
import { addView, createFading, interval, timeout } from "../lib/reactions.ts";
import type { Realtime } from "../lib/realtime.ts";

export const PAGE_SIZE = 25;
export const SORTS: readonly { value: LeadSort; label: string }[] = [
  { value: "-score", label: "Score, highest first" },
  { value: "score", label: "Score, lowest first" },
  { value: "-last_event_at", label: "Latest activity" },
  { value: "last_event_at", label: "Least recent activity" },
  { value: "-updated_at", label: "Recently updated" },
  { value: "updated_at", label: "Least recently updated" },
];
const DEFAULT_SORT: LeadSort = "-score";
/** Typing in a text filter waits this long for the next keystroke before asking the server. */
const TYPING_DELAY_MS = 300;
/** Live activity refreshes the page at most this often (order and membership may have changed). */
const REFRESH_INTERVAL_MS = 1000;
/** While the socket is down, the first page is polled instead. */
const POLL_INTERVAL_MS = 15_000;
/** How long a row stays highlighted after a live change. */
const FLASH_MS = 2500;

/** Filter form values, as typed. */
export interface LeadFilters {
  min_score: string;
  max_score: string;
  stage: Stage | "";
  company: string;
  q: string;
  sort: LeadSort;
}

export const EMPTY_FILTERS: LeadFilters = {
  min_score: "",
  max_score: "",
  stage: "",
  company: "",
  q: "",
  sort: DEFAULT_SORT,
};

export type FilterErrors = Partial<Record<keyof LeadFilters, string>>;

function scoreBound(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (!/^\d+$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

export function filterErrors(filters: LeadFilters): FilterErrors {
  const errors: FilterErrors = {};
  const min = scoreBound(filters.min_score);
  const max = scoreBound(filters.max_score);
  if (min === undefined) errors.min_score = "Enter a whole number of 0 or more";
  if (max === undefined) errors.max_score = "Enter a whole number of 0 or more";
  if (typeof min === "number" && typeof max === "number" && min > max) {
    errors.max_score = "Must be at least the minimum score";
  }
  return errors;
}

/** The filters with every field in error left out, so the others still apply while one is being corrected. */
export function validFilters(filters: LeadFilters): LeadFilters {
  const errors = filterErrors(filters);
  return {
    ...filters,
    min_score: errors.min_score ? "" : filters.min_score,
    max_score: errors.max_score ? "" : filters.max_score,
  };
}

/** Most company names offered as suggestions. */
const MAX_SUGGESTIONS = 100;

/** The API query for a set of filters and a page cursor. */
export function filtersToQuery(filters: LeadFilters, cursor: string | null = null, limit = PAGE_SIZE): LeadQuery {
  return {
    min_score: scoreBound(filters.min_score) ?? null,
    max_score: scoreBound(filters.max_score) ?? null,
    stage: filters.stage || null,
    company: filters.company.trim() || null,
    q: filters.q.trim() || null,
    sort: filters.sort,
    limit,
    cursor,
  };
}

/** The page URL's query string for a set of filters (the default sort is left out). */
export function filtersToSearch(filters: LeadFilters): string {
  const params = new URLSearchParams();
  for (const key of ["min_score", "max_score", "stage", "company", "q"] as const) {
    const value = filters[key].trim();
    if (value) params.set(key, value);
  }
  if (filters.sort !== DEFAULT_SORT) params.set("sort", filters.sort);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function filtersFromSearch(search: string): LeadFilters {
  const params = new URLSearchParams(search);
  const stage = params.get("stage") ?? "";
  const sort = params.get("sort") ?? "";
  return {
    min_score: params.get("min_score") ?? "",
    max_score: params.get("max_score") ?? "",
    stage: (STAGES as readonly string[]).includes(stage) ? (stage as Stage) : "",
    company: params.get("company") ?? "",
    q: params.get("q") ?? "",
    sort: SORTS.some((option) => option.value === sort) ? (sort as LeadSort) : DEFAULT_SORT,
  };
}

/** Query parameters of the page the table reads (and `realtime`, which the app reads once at start). */
const KNOWN_PARAMS = new Set(["min_score", "max_score", "stage", "company", "q", "sort", "realtime"]);

/**
 * What in a page URL's query the table cannot use, as `name=value (why)`: a stage or sort it does not know, a
 * parameter it does not read. Score bounds that are not numbers are not listed: the form shows and marks them.
 */
export function searchProblems(search: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of new URLSearchParams(search)) {
    if (key === "stage" && value !== "" && !(STAGES as readonly string[]).includes(value)) {
      problems.push(`stage=${value} (not a stage)`);
    } else if (key === "sort" && value !== "" && !SORTS.some((option) => option.value === value)) {
      problems.push(`sort=${value} (not a sort)`);
    } else if (!KNOWN_PARAMS.has(key)) {
      problems.push(`${key}=${value} (not a filter)`);
    }
  }
  return problems;
}

/** The columns whose headers sort the table, and the sort a click on each gives: descending first, then the reverse. */
export type SortColumn = "score" | "last_event_at" | "updated_at";

export function nextSort(current: LeadSort, column: SortColumn): LeadSort {
  return current === `-${column}` ? column : `-${column}`;
}

/** The rows after a live update, or null when the lead is not among them. */
export function applyScoreUpdate(leads: readonly Lead[], update: ScoreUpdate): Lead[] | null {
  const index = leads.findIndex((lead) => lead._id === update.lead_id);
  if (index < 0) return null;
  const lead = leads[index] as Lead;
  const newer = lead.last_event_at === null || update.timestamp > lead.last_event_at;
  const next = leads.slice();
  next[index] = {
    ...lead,
    current_score: update.current_score,
    stage: update.stage,
    last_event_at: newer ? update.timestamp : lead.last_event_at,
  };
  return next;
}

export type LoadStatus = "loading" | "ready" | "error";

export interface LeadsModelDeps {
  api: Pick<Api, "listLeads" | "exportLeads">;
  realtime: Realtime;
  /** The page's query string and a way to replace it, so filters survive reloads and can be shared. */
  url: { read(): string; write(search: string): void };
  announce?: (text: string) => void;
  /** Score decay: rows are shown decayed to its instant (none by default). */
  decay?: DecayClock;
}

/** The lead table; `activate` shows it, live, until the function it returns is called. */
export const LeadsModel = createModel((deps: LeadsModelDeps) => {
  const filters = signal<LeadFilters>(filtersFromSearch(deps.url.read()), { name: "leads.filters" });
  const errors = computed(() => filterErrors(filters.value));
  const decay = deps.decay ?? NO_DECAY;
  const leads = signal<Lead[]>([], { name: "leads.rows" });
  /** When each row's score was heard (a read's arrival, a live update's event time): decay runs from there. */
  const heardAt = signal<Record<string, number>>({}, { name: "leads.heardAt" });
  const total = signal<number | null>(null, { name: "leads.total" });
  const status = signal<LoadStatus>("loading", { name: "leads.status" });
  const error = signal<string | null>(null, { name: "leads.error" });
  /** Cursors of the pages visited: the last one is the page shown (null = first page). */
  const cursors = signal<(string | null)[]>([null], { name: "leads.cursors" });
  const next = signal<string | null>(null, { name: "leads.next" });
  const flashes = createFading<"up" | "down">(FLASH_MS, "leads.flashes");
  const companies = signal<string[]>([], { name: "leads.companies" });
  const filtersOpen = signal(false, { name: "leads.filtersOpen" });
  const exporting = signal(false, { name: "leads.exporting" });
  const exportError = signal<string | null>(null, { name: "leads.exportError" });
  const urlNotice = signal<string | null>(null, { name: "leads.urlNotice" });

  const views = signal<readonly object[]>([], { name: "leads.views" });
  const shown = computed(() => views.value.length > 0);
  /** A text filter changed: the table is read again once typing pauses (a new number per keystroke). */
  const typing = signal(0, { name: "leads.typing" });
  /** Scores moved: the page is read again within REFRESH_INTERVAL_MS of the last read. */
  const refreshDue = signal(false, { name: "leads.refreshDue" });

  let sequence = 0;
  let lastRefresh = 0;
  /** The rows as shown: with score decay, each score decayed to the app's clock (rounded down when shown). */
  const rows = computed(() => {
    const heard = heardAt.value;
    return decayedRows(leads.value, (lead) => heard[lead._id], decay);
  });

  function remember(rows: readonly Lead[]) {
    const known = new Set(companies.value);
    for (const row of rows) if (row.company && known.size < MAX_SUGGESTIONS) known.add(row.company);
    if (known.size !== companies.value.length) companies.value = [...known].sort((a, b) => a.localeCompare(b));
  }

  /**
   * Reads the page shown. Only the newest read lands; `fresh` (another page, other filters) takes the rows away at
   * once, so rows of another page are never shown under this one's number while it loads.
   */
  async function load(options: { quiet?: boolean; fresh?: boolean } = {}) {
    const mine = ++sequence;
    // Counted from the read's start too: a refresh due as its rows land waits a full interval after it.
    lastRefresh = Date.now();
    if (!options.quiet) status.value = "loading";
    if (options.fresh) leads.value = [];
    const cursor = cursors.value[cursors.value.length - 1] ?? null;
    try {
      const page = await deps.api.listLeads(filtersToQuery(validFilters(filters.value), cursor));
      if (mine !== sequence) return;
      remember(page.items);
      const readAt = Date.now();
      batch(() => {
        leads.value = page.items;
        heardAt.value = Object.fromEntries(page.items.map((lead) => [lead._id, readAt]));
        total.value = page.total;
        next.value = page.next;
        status.value = "ready";
        error.value = null;
      });
    } catch (failure) {
      if (mine !== sequence) return;
      // A failed background refresh keeps the rows already shown.
      if (options.quiet && status.value === "ready") return;
      batch(() => {
        status.value = "error";
        error.value = (failure as Error).message;
      });
    } finally {
      if (mine === sequence) lastRefresh = Date.now();
    }
  }

  function restart() {
    batch(() => {
      cursors.value = [null];
      next.value = null;
      urlNotice.value = null;
    });
    deps.url.write(filtersToSearch(validFilters(filters.value)));
    void load({ fresh: true });
  }

  function onScoreUpdate(update: ScoreUpdate) {
    const before = leads.value.find((lead) => lead._id === update.lead_id);
    const updated = applyScoreUpdate(leads.value, update);
    if (updated) {
      batch(() => {
        leads.value = updated;
        heardAt.value = { ...heardAt.value, [update.lead_id]: heardAtOf(update, before) };
      });
    }
    // A snapshot is the state the row already shows; anything else may reorder or add rows.
    if (update.snapshot) return;
    if (before && before.current_score !== update.current_score) {
      flashes.mark(update.lead_id, update.current_score > before.current_score ? "up" : "down");
      deps.announce?.(`${before.name || update.lead_id}: score ${shownScore(update.current_score)}, ${update.stage}`);
    }
    refreshDue.value = true;
  }

  function setFilter<K extends keyof LeadFilters>(key: K, value: LeadFilters[K]) {
    filters.value = { ...filters.value, [key]: value };
    if (key === "q" || key === "company" || key === "min_score" || key === "max_score") {
      typing.value += 1;
    } else {
      typing.value = 0;
      restart();
    }
  }

  effect(() => {
    if (!shown.value || typing.value === 0) return;
    return timeout(() => {
      typing.value = 0;
      restart();
    }, TYPING_DELAY_MS);
  });
  effect(() => {
    if (!shown.value || !refreshDue.value) return;
    const wait = Math.max(0, lastRefresh + REFRESH_INTERVAL_MS - Date.now());
    return timeout(() => {
      refreshDue.value = false;
      void load({ quiet: true });
    }, wait);
  });
  // Rows shown are subscribed to; the set follows the rows. The rooms of the rows before are let go a moment later,
  // after the new rows hold theirs, so a row that stays never leaves its room and joins it again.
  effect(() => {
    if (!shown.value) return;
    const releases = leads.value.map((lead) => deps.realtime.subscribe(lead._id));
    return () =>
      queueMicrotask(() => {
        for (const release of releases) release();
      });
  });
  effect(() => {
    if (shown.value) return deps.realtime.onScoreUpdate(onScoreUpdate);
  });
  effect(() => {
    if (shown.value) return decay.watch();
  });
  // A row that decays out of the filters (below the lowest score asked, out of the stage asked) is not the server's
  // to announce unless it crosses a stage: the page is read again, which takes it out and brings the next one in.
  effect(() => {
    if (!shown.value || decay.halfLife.value === null) return;
    const query = filtersToQuery(validFilters(filters.value));
    const left = rows.value.some(
      (row) =>
        (typeof query.min_score === "number" && row.current_score < query.min_score) ||
        (query.stage && row.stage !== query.stage),
    );
    if (left) refreshDue.value = true;
  });
  // The leaderboard event is the one broadcast every dashboard gets: a sign that scores moved, possibly of leads that
  // are not on this page yet.
  effect(() => {
    if (!shown.value) return;
    return deps.realtime.onLeaderboard((_, reason) => {
      if (reason !== "initial") refreshDue.value = true;
    });
  });
  effect(() => {
    if (!shown.value) return;
    return interval(() => {
      if (deps.realtime.status.value !== "live") void load({ quiet: true });
    }, POLL_INTERVAL_MS);
  });

  return {
    filters,
    errors,
    leads,
    /** The rows as shown: with score decay, each score decayed to the app's clock, rounded down when shown. */
    rows,
    total,
    status,
    error,
    /** Leads whose score changed live a moment ago, with the direction. */
    flashes: flashes.marks,
    pageNumber: computed(() => cursors.value.length),
    hasNext: computed(() => next.value !== null),
    hasPrevious: computed(() => cursors.value.length > 1),
    filtered: computed(() => filtersToSearch({ ...filters.value, sort: DEFAULT_SORT }) !== ""),
    /** Companies of the leads seen so far, for the company filter's suggestions. */
    companies,
    /** Whether the filter form is shown where it is folded away (narrow screens). */
    filtersOpen,
    exporting,
    exportError,
    /** What was taken out of the page's address because the table cannot use it; null when nothing was. */
    urlNotice,
    dismissUrlNotice() {
      urlNotice.value = null;
    },
    /** Sorts by a column: by it descending, or reversed when it is already the sort. */
    sortBy(column: SortColumn) {
      setFilter("sort", nextSort(filters.value.sort, column));
    },
    /** The score range filtered on when both bounds are set, e.g. by a bar of the score distribution. */
    scoreRange: computed(() => {
      const from = scoreBound(filters.value.min_score);
      const to = scoreBound(filters.value.max_score);
      return typeof from === "number" && typeof to === "number" ? { from, to } : null;
    }),
    /** Shows only scores from `from` to `to` (both included); null shows every score. */
    setScoreRange(range: { from: number; to: number } | null) {
      filters.value = {
        ...filters.value,
        min_score: range ? String(range.from) : "",
        max_score: range ? String(range.to) : "",
      };
      restart();
    },
    toggleFilters() {
      filtersOpen.value = !filtersOpen.value;
    },
    /** The CSV of the leads the current filters select, or null when it could not be read (see `exportError`). */
    async exportCsv(): Promise<Blob | null> {
      if (exporting.value) return null;
      batch(() => {
        exporting.value = true;
        exportError.value = null;
      });
      try {
        return await deps.api.exportLeads(filtersToQuery(validFilters(filters.value)));
      } catch (failure) {
        exportError.value = (failure as Error).message;
        return null;
      } finally {
        exporting.value = false;
      }
    },
    setFilter,
    clearFilters() {
      filters.value = { ...EMPTY_FILTERS, sort: filters.value.sort };
      restart();
    },
    showNextPage() {
      if (next.value === null) return;
      cursors.value = [...cursors.value, next.value];
      void load({ fresh: true });
    },
    showPreviousPage() {
      if (cursors.value.length < 2) return;
      cursors.value = cursors.value.slice(0, -1);
      void load({ fresh: true });
    },
    reload: () => load(),
    /** Shows the table, live, until the returned function is called. */
    activate() {
      const search = deps.url.read();
      const fromUrl = filtersFromSearch(search);
      if (filtersToSearch(fromUrl) !== filtersToSearch(filters.value)) {
        filters.value = fromUrl;
        cursors.value = [null];
      }
      // What the table cannot use leaves the address bar, saying so, rather than staying there as if it applied.
      const problems = searchProblems(search);
      if (problems.length > 0) {
        urlNotice.value = `Removed from the address: ${problems.join(", ")}.`;
        deps.url.write(filtersToSearch(filters.value));
      }
      // This read is newer than any typing or live change left pending by an earlier view.
      typing.value = 0;
      refreshDue.value = false;
      void load({ quiet: status.value === "ready" });
      return addView(views, {});
    },
  };
});
export type LeadsModel = InstanceType<typeof LeadsModel>;
