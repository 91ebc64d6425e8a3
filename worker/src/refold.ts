// The deep lane's fold of late events into a lead's settled pages, decided from the lead's live state and the pages
// it reads (pure: every case is unit-tested without a server).
//
// A page stores what its events did to the score, not their positions (see PageRef in live/src/codec.ts). So a late
// event costs the page it lands in, plus the pages after it until the score after one of them is the score stored
// for it: from there on every entry's delta, score and reason are what they were, and only positions and
// `score_reached_at` move, which follow from the page list. On a lead at its cap that is a page or two, whatever the
// length of the history after the event.
//
// Under the v2 fold a page also starts from a tally (limit counters, group totals), stored in its document, its
// digest in its ref: a page after rewritten ones is kept only when the score AND the tally before it are the stored
// ones, so it never needs reading to be kept. The breakdown follows: the entries of the pages rewritten and of the old
// tail are taken out of it, the new ones put in.
import { keyOf, type ScorableEvent } from "@leadscore/contracts";
import {
  addToBreakdown,
  type BreakdownTally,
  decodeTally,
  encodeTally,
  entryEvent,
  type FoldedEntry,
  foldLive,
  type LiveEntry,
  type LiveFoldState,
  PAGE_SIZE,
  type PageRef,
  pageRef,
  pageStarts,
  tallyDigest,
} from "@leadscore/live";
import { markLate, type NewPage, type NextState, type PageIds, settle, stateAfter } from "./plan.ts";

/** Pages asked for at once when the fold needs one it does not have. */
export const FETCH_AHEAD = 4;

export interface RefoldInput {
  pages: readonly PageRef[];
  /** The lead's tail (its newest entries), oldest first. */
  tail: readonly LiveEntry[];
  /** Events waiting for the lead: late ones, and whatever came in while the lane held it. */
  waiting: readonly ScorableEvent[];
  cap: number;
  /** The fold state before the tail, with its tally (the lead's `base`). */
  base: LiveFoldState;
  /** The lead's breakdown tally, over its whole history. */
  breakdown: BreakdownTally;
  /** A page's events, entries and start tally, or undefined when it is not at hand. */
  page(id: string): RefoldPage | undefined;
  newPageId: PageIds;
  /** The half-life in force (seconds), or null without decay. */
  halfLife?: number | null;
}

export interface RefoldPage {
  events: ScorableEvent[];
  entries: readonly FoldedEntry[];
  /** The tally before the page, as its document stores it. */
  tally: string;
}

/**
 * The fold state at a point of the refold; `stored` when it is the state the live state stored there (reached through
 * kept pages), whose tally is then read from the page's document or the lead's base when it is needed.
 */
interface At {
  state: LiveFoldState;
  stored: boolean;
}

export type RefoldResult = { kind: "done"; next: NextState } | { kind: "missing"; pages: string[] };

const isRef = (item: object): item is PageRef => "firstKey" in item;

/** The page a sort key falls in: the last whose first key is not after it (the first page for a key before all). */
function pageOf(refs: readonly PageRef[], key: string): number {
  let lo = 0;
  let hi = refs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((refs[mid] as PageRef).firstKey <= key) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Entries of a rewritten page: one page while under two pages' worth, else split PAGE_SIZE at a time. */
function split<T>(entries: T[]): T[][] {
  const pieces: T[][] = [];
  let rest = entries;
  while (rest.length >= 2 * PAGE_SIZE) {
    pieces.push(rest.slice(0, PAGE_SIZE));
    rest = rest.slice(PAGE_SIZE);
  }
  pieces.push(rest);
  return pieces;
}

/**
 * Folds the waiting events into the lead's history. A page is rewritten when an event lands in it, or when the
 * score before it differs from the one it was folded from; every other page is kept as it is (an event received
 * before one of its entries and landing after it makes that entry late, which its readers derive: decodePage). The tail is folded again from the
 * state after the last page, and spills as usual.
 */
export function refoldLate(input: RefoldInput): RefoldResult {
  const { pages: refs, tail, cap } = input;
  const halfLifeSeconds = input.halfLife ?? null;
  const starts = pageStarts(refs);
  const tailKey = tail[0]?.sort_key;
  const slots = new Map<number, ScorableEvent[]>();
  const seen = new Set<string>();
  for (const event of input.waiting) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    const key = keyOf(event);
    const slot = refs.length === 0 || (tailKey !== undefined && key >= tailKey) ? refs.length : pageOf(refs, key);
    const list = slots.get(slot);
    if (list) list.push(event);
    else slots.set(slot, [event]);
  }
  // A page's late flags are its own entries' (spill in plan.ts), so what lands after a page leaves it as it is.
  const dirty = (n: number) => slots.has(n);
  let first = refs.length;
  for (let n = 0; n < refs.length; n += 1) {
    if (dirty(n)) {
      first = n;
      break;
    }
  }

  // Forward: the pages from the first dirty one, each kept or folded again from the state before it.
  const layout: (PageRef | Rewritten)[] = refs.slice(0, first);
  let at: At = { state: starts[first] as LiveFoldState, stored: true };
  const removed: FoldedEntry[] = [];
  const added: FoldedEntry[] = [];
  for (let n = first; n < refs.length; n += 1) {
    const ref = refs[n] as PageRef;
    const sameTally = at.stored || tallyDigest(encodeTally(at.state.tally)) === ref.tally;
    const storedStart = starts[n] as LiveFoldState;
    // With decay a page also starts from the time of the event before it, which a late event may have moved.
    const sameAt = halfLifeSeconds === null || (at.state.at ?? null) === (storedStart.at ?? null);
    if (!dirty(n) && at.state.score === storedStart.score && sameTally && sameAt) {
      layout.push(ref);
      const { count, reachedAt } = at.state;
      at = {
        state: {
          score: ref.scoreAfter,
          count: count + ref.size,
          reachedAt: ref.changedAt ?? reachedAt,
          at: ref.lastEventAt,
        },
        stored: true,
      };
      continue;
    }
    const page = input.page(ref.id);
    if (page === undefined) {
      return { kind: "missing", pages: refs.slice(n, n + FETCH_AHEAD).map((item) => item.id) };
    }
    const start = at.stored ? withTally(at.state, page.tally) : at.state;
    // The stored copy of an event wins over a waiting one with its id.
    const { history, state } = foldLive([...page.events, ...(slots.get(n) ?? [])], cap, start, halfLifeSeconds);
    layout.push({ entries: history, start });
    removed.push(...page.entries);
    added.push(...history);
    at = { state, stored: false };
  }
  const tailStart = at.stored ? withTally(at.state, encodeTally(input.base.tally)) : at.state;
  const tailEvents = [...tail.map(entryEvent), ...(slots.get(refs.length) ?? [])];
  const folded = foldLive(tailEvents, cap, tailStart, halfLifeSeconds);
  const tailEntries = markLate(folded.history);
  const breakdown = addToBreakdown(
    addToBreakdown(input.breakdown, [...removed, ...tail], -1),
    [...added, ...tailEntries],
    1,
  );

  const pages: PageRef[] = refs.slice(0, first);
  const newPages: NewPage[] = [];
  for (const item of layout.slice(first)) {
    if (isRef(item)) {
      pages.push(item);
      continue;
    }
    let start = item.start;
    // Each piece's late flags are its own entries' (spill in plan.ts).
    for (const entries of split(item.entries).map((piece) => markLate(piece))) {
      const startTally = encodeTally(start.tally);
      const id = input.newPageId(entries, startTally);
      newPages.push({ id, entries, startTally });
      pages.push(pageRef(id, entries, startTally));
      start = stateAfter(entries, start, cap, halfLifeSeconds);
    }
  }
  const next = settle(tailEntries, tailStart, pages, input.newPageId, cap, folded.state, breakdown, halfLifeSeconds);
  return { kind: "done", next: { ...next, newPages: [...newPages, ...next.newPages] } };
}

/** A page folded again: its entries and the state before them. */
interface Rewritten {
  entries: FoldedEntry[];
  start: LiveFoldState;
}

function withTally(state: LiveFoldState, tally: string): LiveFoldState {
  const decoded = decodeTally(tally);
  return decoded === undefined
    ? { score: state.score, count: state.count, reachedAt: state.reachedAt, at: state.at ?? null }
    : { ...state, tally: decoded };
}
