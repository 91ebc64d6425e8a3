// The deep lane's fold of late events into a lead's settled pages, decided from the lead's live state and the pages
// it reads (pure: every case is unit-tested without a server).
//
// A page stores what its events did to the score, not their positions (see PageRef in live/src/codec.ts). So a late
// event costs the page it lands in, plus the pages after it until the score after one of them is the score stored
// for it: from there on every entry's delta, score and reason are what they were, and only positions and
// `score_reached_at` move, which follow from the page list. On a lead at its cap that is a page or two, whatever the
// length of the history after the event.
import { type FoldState, foldScores, type HistoryEntry, keyOf, type ScorableEvent } from "@leadscore/contracts";
import { entryEvent, type LiveEntry, PAGE_SIZE, type PageRef, pageRef, pageStarts } from "@leadscore/live";
import { markLate, type NextState, settle } from "./plan.ts";

/** Pages asked for at once when the fold needs one it does not have. */
export const FETCH_AHEAD = 4;

export interface RefoldInput {
  pages: readonly PageRef[];
  /** The lead's tail (its newest entries), oldest first. */
  tail: readonly LiveEntry[];
  /** Events waiting for the lead: late ones, and whatever came in while the lane held it. */
  waiting: readonly ScorableEvent[];
  cap: number;
  /** A page's events, or undefined when it is not at hand. */
  pageEvents(id: string): ScorableEvent[] | undefined;
  newPageId(): string;
}

export type RefoldResult = { kind: "done"; next: NextState } | { kind: "missing"; pages: string[] };

const isRef = (item: PageRef | readonly unknown[]): item is PageRef => !Array.isArray(item);

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
function split(entries: LiveEntry[]): LiveEntry[][] {
  const pieces: LiveEntry[][] = [];
  let rest = entries;
  while (rest.length >= 2 * PAGE_SIZE) {
    pieces.push(rest.slice(0, PAGE_SIZE));
    rest = rest.slice(PAGE_SIZE);
  }
  pieces.push(rest);
  return pieces;
}

/**
 * Folds the waiting events into the lead's history. A page is rewritten when an event lands in it, when an event
 * received before one of its entries lands after it (that entry now arrived late), or when the score before it
 * differs from the one it was folded from; every other page is kept as it is. The tail is folded again from the
 * state after the last page, and spills as usual.
 */
export function refoldLate(input: RefoldInput): RefoldResult {
  const { pages: refs, tail, cap } = input;
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
  // The earliest received_at among the waiting events landing after each page.
  const receivedAfter: number[] = new Array(refs.length + 1).fill(Number.POSITIVE_INFINITY);
  for (let n = refs.length - 1; n >= 0; n -= 1) {
    let min = receivedAfter[n + 1] as number;
    for (const event of slots.get(n + 1) ?? []) min = Math.min(min, event.received_at);
    receivedAfter[n] = min;
  }
  const dirty = (n: number) => slots.has(n) || (refs[n] as PageRef).receivedMax > (receivedAfter[n] as number);
  let first = refs.length;
  for (let n = 0; n < refs.length; n += 1) {
    if (dirty(n)) {
      first = n;
      break;
    }
  }

  // Forward: the pages from the first dirty one, each kept or folded again from the state before it.
  const layout: (PageRef | HistoryEntry[])[] = refs.slice(0, first);
  let state = starts[first] as FoldState;
  for (let n = first; n < refs.length; n += 1) {
    const ref = refs[n] as PageRef;
    if (!dirty(n) && state.score === (starts[n] as FoldState).score) {
      layout.push(ref);
      state = { score: ref.scoreAfter, count: state.count + ref.size, reachedAt: ref.changedAt ?? state.reachedAt };
      continue;
    }
    const events = input.pageEvents(ref.id);
    if (events === undefined) {
      return { kind: "missing", pages: refs.slice(n, n + FETCH_AHEAD).map((page) => page.id) };
    }
    // The stored copy of an event wins over a waiting one with its id.
    const entries = foldScores([...events, ...(slots.get(n) ?? [])], cap, state).history;
    layout.push(entries);
    const last = entries.at(-1) as HistoryEntry;
    state = { score: last.score, count: last.seq, reachedAt: last.score_reached_at };
  }
  const tailEvents = [...tail.map(entryEvent), ...(slots.get(refs.length) ?? [])];
  const tailEntries = markLate(foldScores(tailEvents, cap, state).history);

  // Backward, down to the first dirty page (the pages before it stay as they are): the late flags of the rewritten
  // pages, which depend on what was received after them.
  let later = tailEntries.reduce((min, entry) => Math.min(min, entry.received_at), Number.POSITIVE_INFINITY);
  const placed: (PageRef | LiveEntry[][])[] = new Array(layout.length);
  for (let n = layout.length - 1; n >= first; n -= 1) {
    const item = layout[n] as PageRef | HistoryEntry[];
    if (isRef(item)) {
      placed[n] = item;
      later = Math.min(later, item.receivedMin);
      continue;
    }
    const marked = markLate(item, later);
    placed[n] = split(marked);
    for (const entry of marked) later = Math.min(later, entry.received_at);
  }
  const pages: PageRef[] = refs.slice(0, first);
  const newPages: NextState["newPages"] = [];
  for (const item of placed.slice(first)) {
    if (isRef(item)) {
      pages.push(item);
      continue;
    }
    for (const entries of item) {
      const id = input.newPageId();
      newPages.push({ id, entries });
      pages.push(pageRef(id, entries));
    }
  }
  const next = settle(tailEntries, state, pages, input.newPageId);
  return { kind: "done", next: { ...next, newPages: [...newPages, ...next.newPages] } };
}
