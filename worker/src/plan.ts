// What a batch does to one lead, decided from the lead's live state alone (no MongoDB read): the pure part of the
// scorer, so every case is unit-tested without a server.
//
// - new events all newer than the lead's newest: the fold continues from the lead's state (append);
// - an event older than the newest but not older than the tail's first entry (or the tail is the whole history):
//   the tail is folded again from the state before it, with the new events slotted in;
// - an event older than the tail while older history sits in MongoDB pages: the lead goes to the deep lane
//   ("pages"), which folds it with those pages;
// - a duplicate (its id was already stored) that is not in the tail: stored earlier, but folded or not? Only the
//   stored events can tell, so the lead goes to the deep lane to rescan them ("rescan").
// Events already in the tail were folded by an earlier round (a round that lost a compare-and-set, or ran again);
// they are skipped.
//
// Every fold is the v2 fold (`foldLive`): it carries the tally (limit counters, group totals) with the score, so the
// state before the tail (`base`), after it and before each new page holds one, and the breakdown tally (points and
// events per rule and group) follows every entry folded in, or folded again.
import {
  DEFAULT_SCORE_CAP,
  keyOf,
  type ScorableEvent,
  type ScoreUpdate,
  type StageThresholds,
  stageFor,
} from "@leadscore/contracts";
import {
  addToBreakdown,
  type BreakdownTally,
  emptyBreakdown,
  encodeEntryTexts,
  encodeTally,
  entryEvent,
  foldLive,
  type LiveEntry,
  type LiveFoldState,
  type LiveLead,
  latestReceived,
  PAGE_SIZE,
  type PageRef,
  pageRef,
  TAIL_SPILL_AT,
  type Tally,
} from "@leadscore/live";

export type LeadPlan =
  | { kind: "noop" }
  /** The lead was read without its tail (PLAN_FIELDS) and this round needs it: read it and plan again. */
  | { kind: "needTail" }
  | { kind: "divert"; mode: "pages" | "rescan"; pending: ScorableEvent[] }
  | { kind: "commit"; next: NextState; folded: ScorableEvent[]; late: number };

/** A lead's state after a round, and the history pages it settles. */
export interface NextState {
  score: number;
  count: number;
  reachedAt: number | null;
  lastKey: string | null;
  lastEventAt: number | null;
  tail: LiveEntry[];
  base: LiveFoldState;
  /** The v2 fold's tally after the newest entry; absent while empty. */
  tally?: Tally;
  /** Per rule and group, the points given and events matched over the whole history after the round. */
  breakdown: BreakdownTally;
  /**
   * The lead's page list after the round, or null for the stored one with `newPages` appended (their refs spliced in
   * by the commit script, so a round that only spills from the tail never reads the list).
   */
  pages: PageRef[] | null;
  /** Pages to insert before the commit (`pageDocument`), each with the tally before it (`encodeTally`). */
  newPages: NewPage[];
  /**
   * Set when the round only appended entries to the stored tail, leaving its older entries, the base and the pages
   * as they were: then only these and the fold state are written, and `tail` is decoded only if read.
   */
  appended?: { entries: LiveEntry[]; added: string; newest: string; tailReceivedMax: number };
}

/** Names a new page from what it holds (page-id.ts): its entries and the tally before it, encoded. */
export type PageIds = (entries: readonly LiveEntry[], startTally: string) => string;

export interface NewPage {
  id: string;
  entries: LiveEntry[];
  startTally: string;
}

const ZERO: LiveFoldState = { score: 0, count: 0, reachedAt: null };

/**
 * The fold state after `entries` (folded, in order, from `start`, with `halfLifeSeconds`): the tally by folding them
 * again when it may move.
 */
export function stateAfter(
  entries: readonly LiveEntry[],
  start: LiveFoldState,
  cap: number,
  halfLifeSeconds: number | null = null,
): LiveFoldState {
  const last = entries.at(-1);
  if (last === undefined) return start;
  const state: LiveFoldState = {
    score: last.score,
    count: last.seq,
    reachedAt: last.score_reached_at,
    at: last.timestamp,
  };
  const moves =
    start.tally !== undefined ||
    entries.some((entry) => entry.candidates.some((c) => c.limit !== undefined || c.group !== undefined));
  if (!moves) return state;
  const { tally } = foldLive(entries.map(entryEvent), cap, start, halfLifeSeconds).state;
  return tally === undefined ? state : { ...state, tally };
}

/**
 * Marks entries whose event was received after an event with a later event time among `entries`: "arrived late". A
 * function of the events alone (not of batch boundaries), so a rebuild gives the same flags.
 */
export function markLate(entries: Omit<LiveEntry, "late">[]): LiveEntry[] {
  const marked: LiveEntry[] = new Array(entries.length);
  let earliest = Number.POSITIVE_INFINITY;
  for (let i = entries.length - 1; i >= 0; i -= 1) {
    const entry = entries[i] as Omit<LiveEntry, "late">;
    marked[i] = { ...entry, late: entry.received_at > earliest };
    earliest = Math.min(earliest, entry.received_at);
  }
  return marked;
}

/**
 * Splits a lead's whole history into settled pages and a tail of one to two pages' worth: what spilling it as one
 * tail gives.
 */
export function layoutHistory(
  entries: LiveEntry[],
  cap = DEFAULT_SCORE_CAP,
  halfLifeSeconds: number | null = null,
): { pages: LiveEntry[][]; tail: LiveEntry[]; base: LiveFoldState; starts: string[] } {
  const { tail, base, newPages } = spill(entries, ZERO, null, () => "", cap, halfLifeSeconds);
  return { pages: newPages.map((page) => page.entries), tail, base, starts: newPages.map((page) => page.startTally) };
}

/**
 * The tail after new entries, spilling whole pages out of it once it reaches TAIL_SPILL_AT entries; `refs` is the
 * page list before them, or null when it was not read (the commit appends the new pages' refs to the stored list).
 * A page's late flags are marked within the page alone (`decodePage` completes them from what follows it), so a
 * page's content is a function of its own entries: whatever arrives after it, the same entries laid out again — by
 * the deep lane, a rescan or a rebuild — are the same page under the same id.
 */
export function spill(
  tail: LiveEntry[],
  base: LiveFoldState,
  refs: readonly PageRef[] | null,
  newPageId: PageIds,
  cap: number,
  halfLifeSeconds: number | null = null,
  reuse: readonly PageRef[] = [],
): Pick<NextState, "tail" | "base" | "pages" | "newPages"> {
  const newPages: NewPage[] = [];
  let rest = tail;
  let start = base;
  const pages = refs === null ? null : [...refs];
  // A layout to reuse (a rebuild's: the previous generation's pages) is followed page by page while each comes out
  // the same (same entries after the same tally: the same id) and a tail of at least PAGE_SIZE stays after it.
  for (const ref of reuse) {
    if (rest.length - ref.size < PAGE_SIZE) break;
    const entries = markLate(rest.slice(0, ref.size));
    const startTally = encodeTally(start.tally);
    if (newPageId(entries, startTally) !== ref.id) break;
    newPages.push({ id: ref.id, entries, startTally });
    pages?.push(pageRef(ref.id, entries, startTally));
    start = stateAfter(entries, start, cap, halfLifeSeconds);
    rest = rest.slice(ref.size);
  }
  while (rest.length >= TAIL_SPILL_AT) {
    const entries = markLate(rest.slice(0, PAGE_SIZE));
    const startTally = encodeTally(start.tally);
    const id = newPageId(entries, startTally);
    newPages.push({ id, entries, startTally });
    pages?.push(pageRef(id, entries, startTally));
    start = stateAfter(entries, start, cap, halfLifeSeconds);
    rest = rest.slice(PAGE_SIZE);
  }
  return { tail: rest, base: start, pages, newPages };
}

/**
 * The state after a round: `tail` laid out after `base` (spilling whole pages), `after` the fold state after its last
 * entry and `breakdown` the whole history's.
 */
export function settle(
  tail: LiveEntry[],
  base: LiveFoldState,
  pages: readonly PageRef[] | null,
  newPageId: PageIds,
  cap: number,
  after: LiveFoldState,
  breakdown: BreakdownTally,
  halfLifeSeconds: number | null = null,
  reuse: readonly PageRef[] = [],
): NextState {
  const last = tail.at(-1);
  const spilled = spill(tail, base, pages, newPageId, cap, halfLifeSeconds, reuse);
  return {
    score: last?.score ?? base.score,
    count: last?.seq ?? base.count,
    reachedAt: last ? last.score_reached_at : base.reachedAt,
    lastKey: last?.sort_key ?? null,
    lastEventAt: last?.timestamp ?? base.at ?? null,
    ...(after.tally && { tally: after.tally }),
    breakdown,
    ...spilled,
  };
}

/**
 * Folds `events` from `base` (the state before the first of them), marks the late ones and lays the entries out as a
 * tail after `pages` (null: the stored list, not read), spilling whole pages as settle does; `breakdown` is the
 * history's without these entries.
 */
export function foldAndSettle(
  events: readonly ScorableEvent[],
  cap: number,
  base: LiveFoldState,
  pages: readonly PageRef[] | null,
  newPageId: PageIds,
  breakdown: BreakdownTally,
  halfLifeSeconds: number | null = null,
  reuse: readonly PageRef[] = [],
): NextState {
  const { history, state } = foldLive(events, cap, base, halfLifeSeconds);
  const entries = markLate(history);
  const total = addToBreakdown(breakdown, entries, 1);
  return settle(entries, base, pages, newPageId, cap, state, total, halfLifeSeconds, reuse);
}

/**
 * A lead's whole history folded from its events and laid out: pages of PAGE_SIZE, all new, and the tail. The one
 * layout of a history from scratch, for the deep lane's rescan and the rebuild; the planner folds a tail again with
 * the same step (foldAndSettle) from the state before it. `reuse` (a rebuild's: the pages the lead had) is followed
 * while its pages come out the same (see spill), so a rebuild names the pages already stored.
 */
export function foldWholeHistory(
  events: readonly ScorableEvent[],
  cap: number,
  newPageId: PageIds,
  halfLifeSeconds: number | null = null,
  reuse: readonly PageRef[] = [],
): NextState {
  return foldAndSettle(events, cap, ZERO, [], newPageId, emptyBreakdown(), halfLifeSeconds, reuse);
}

/** The fold state after a lead's newest entry (where an append starts). */
function currentState(lead: LiveLead | null): LiveFoldState {
  if (lead === null) return ZERO;
  const state: LiveFoldState = {
    score: lead.score,
    count: lead.count,
    reachedAt: lead.reachedAt,
    at: lead.lastEventAt,
  };
  return lead.tally === undefined ? state : { ...state, tally: lead.tally };
}

/**
 * The common case, planned without decoding the tail: no duplicates, every event newer than the lead's newest and
 * received no earlier than any tail entry (so no tail entry becomes late), and the tail stays below the spill.
 */
function planAppend(
  lead: LiveLead | null,
  fresh: readonly ScorableEvent[],
  cap: number,
  halfLifeSeconds: number | null,
): LeadPlan | null {
  const stored = lead ? lead.stored : { tail: "", tailReceivedMax: null };
  if (stored === undefined || fresh.length === 0) return null;
  const tailLength = lead ? lead.count - lead.base.count : 0;
  if (tailLength + fresh.length >= TAIL_SPILL_AT) return null;
  if (tailLength > 0 && stored.tailReceivedMax === null) return null;
  const lastKey = lead?.lastKey ?? null;
  const ids = new Set<string>();
  for (const event of fresh) {
    if (ids.has(event.event_id)) return null;
    ids.add(event.event_id);
    if (lastKey !== null && keyOf(event) <= lastKey) return null;
    if (stored.tailReceivedMax !== null && event.received_at < stored.tailReceivedMax) return null;
  }
  const { history, state } = foldLive(fresh, cap, currentState(lead), halfLifeSeconds);
  const entries = markLate(history);
  const last = entries.at(-1) as LiveEntry;
  const received = latestReceived(entries) as number;
  const texts = encodeEntryTexts(entries);
  const next: NextState = {
    score: last.score,
    count: last.seq,
    reachedAt: last.score_reached_at,
    lastKey: last.sort_key,
    lastEventAt: last.timestamp,
    get tail() {
      return lead && tailLength > 0 ? [...lead.tail, ...entries] : entries;
    },
    base: lead?.base ?? ZERO,
    ...(state.tally && { tally: state.tally }),
    breakdown: addToBreakdown(lead?.breakdown ?? emptyBreakdown(), entries, 1),
    pages: null,
    newPages: [],
    appended: {
      entries,
      added: texts.join(","),
      newest: texts.at(-1) as string,
      tailReceivedMax: Math.max(stored.tailReceivedMax ?? received, received),
    },
  };
  return { kind: "commit", next, folded: [...fresh], late: 0 };
}

export function planLead(
  lead: LiveLead | null,
  fresh: readonly ScorableEvent[],
  duplicates: readonly ScorableEvent[],
  cap: number,
  newPageId: PageIds,
  halfLifeSeconds: number | null = null,
): LeadPlan {
  if (duplicates.length === 0) {
    const appended = planAppend(lead, fresh, cap, halfLifeSeconds);
    if (appended) return appended;
  }
  if (lead?.stored?.tail === null) return { kind: "needTail" };
  const tail = lead?.tail ?? [];
  const inTail = new Set(tail.map((entry) => entry.event_id));
  const seen = new Set<string>();
  const events: ScorableEvent[] = [];
  for (const event of fresh) {
    if (inTail.has(event.event_id) || seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    events.push(event);
  }
  const unknown = duplicates.some((event) => !inTail.has(event.event_id) && !seen.has(event.event_id));
  if (unknown) return { kind: "divert", mode: "rescan", pending: events };
  if (events.length === 0) return { kind: "noop" };

  // The tail starts after the pages, so a lead has pages exactly when entries come before its tail.
  const hasPages = (lead?.base.count ?? 0) > 0;
  const lastKey = lead?.lastKey ?? null;
  // The batch's earliest key, and how many of its events sort before the lead's newest.
  let firstKey = keyOf(events[0] as ScorableEvent);
  let late = 0;
  for (const event of events) {
    const key = keyOf(event);
    if (key < firstKey) firstKey = key;
    if (lastKey !== null && key < lastKey) late++;
  }
  const breakdown = lead?.breakdown ?? emptyBreakdown();
  if (lastKey === null || firstKey > lastKey) {
    const { history, state } = foldLive(events, cap, currentState(lead), halfLifeSeconds);
    // The tail's flags are marked again: a new event received before one of them says that one came late.
    const entries = markLate([...tail, ...history]);
    const next = settle(
      entries,
      lead?.base ?? ZERO,
      null,
      newPageId,
      cap,
      state,
      addToBreakdown(breakdown, history, 1),
      halfLifeSeconds,
    );
    return { kind: "commit", next, folded: events, late };
  }
  const tailStart = tail[0]?.sort_key;
  if (!hasPages || (tailStart !== undefined && firstKey > tailStart)) {
    const before = addToBreakdown(breakdown, tail, -1);
    const next = foldAndSettle(
      [...tail.map(entryEvent), ...events],
      cap,
      lead?.base ?? ZERO,
      null,
      newPageId,
      before,
      halfLifeSeconds,
    );
    return { kind: "commit", next, folded: events, late };
  }
  return { kind: "divert", mode: "pages", pending: events };
}

/** The `score_update` of a committed plan: the lead's new score and the newest event the round folded. */
export function scoreUpdateOf(
  leadId: string,
  previous: number,
  next: NextState,
  folded: readonly Pick<ScorableEvent, "event_id" | "event_type" | "timestamp">[],
  thresholds: StageThresholds,
): ScoreUpdate {
  const newest = folded.reduce((a, b) => (keyOf(b) > keyOf(a) ? b : a), folded[0] as (typeof folded)[number]);
  return {
    lead_id: leadId,
    current_score: next.score,
    delta: next.score - previous,
    stage: stageFor(next.score, thresholds),
    event_id: newest.event_id,
    event_type: newest.event_type,
    timestamp: new Date(newest.timestamp).toISOString(),
  };
}
