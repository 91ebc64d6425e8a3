// A lead's whole history folded a piece at a time: what `foldWholeHistory` gives for all its events, without holding
// them. The fold is a left fold over events in `(timestamp, event_id)` order, so each piece continues from the state
// after the one before (as an append does), and the layout only ever looks at the entries not yet in a page: a page
// is settled as soon as the entries after it can no longer change it (a page's content is its own entries and the
// tally before it, plan.ts's `spill`), and handed back to be written. What is held is the fold state, the breakdown,
// the page list and at most a page or two of entries besides the piece being folded.
//
// The pieces must together be the lead's distinct events, in order (lead-event-stream.ts gives them so).
import type { ScorableEvent } from "@leadscore/contracts";
import {
  addToBreakdown,
  type BreakdownTally,
  emptyBreakdown,
  encodeTally,
  foldLive,
  type LiveEntry,
  type LiveFoldState,
  PAGE_SIZE,
  type PageRef,
  pageRef,
  TAIL_SPILL_AT,
} from "@leadscore/live";
import { markLate, type NewPage, type NextState, type PageIds, stateAfter } from "./plan.ts";

const ZERO: LiveFoldState = { score: 0, count: 0, reachedAt: null };

export class PiecewiseFold {
  /** The fold state after the last entry folded. */
  private state: LiveFoldState = ZERO;
  /** The fold state before `rest`'s first entry (after the settled pages). */
  private base: LiveFoldState = ZERO;
  /** Entries folded and not yet in a page. */
  private rest: LiveEntry[] = [];
  private breakdown: BreakdownTally = emptyBreakdown();
  private readonly refs: PageRef[] = [];
  /** The next page of `reuse` to follow, while its pages come out the same (as `spill` follows them). */
  private reused = 0;
  private reusing: boolean;

  constructor(
    private readonly cap: number,
    private readonly newPageId: PageIds,
    private readonly halfLifeSeconds: number | null = null,
    private readonly reuse: readonly PageRef[] = [],
  ) {
    this.reusing = reuse.length > 0;
  }

  /** Folds the next piece of events (all after the previous piece's); returns the pages that settled. */
  add(events: readonly ScorableEvent[]): NewPage[] {
    if (events.length === 0) return [];
    const { history, state } = foldLive(events, this.cap, this.state, this.halfLifeSeconds);
    this.state = state;
    // Late flags are marked again within each page and within the tail (all that follows a tail entry is in the tail).
    const entries = markLate(history);
    this.breakdown = addToBreakdown(this.breakdown, entries, 1);
    for (const entry of entries) this.rest.push(entry);
    return this.settle(false);
  }

  /** The lead's state after every piece; its `newPages` are the pages that settled last. */
  finish(): NextState {
    const newPages = this.settle(true);
    const tail = markLate(this.rest);
    const last = tail.at(-1);
    return {
      score: last?.score ?? ZERO.score,
      count: last?.seq ?? ZERO.count,
      reachedAt: last ? last.score_reached_at : ZERO.reachedAt,
      lastKey: last?.sort_key ?? null,
      lastEventAt: last?.timestamp ?? null,
      ...(this.state.tally && { tally: this.state.tally }),
      breakdown: this.breakdown,
      tail,
      base: this.base,
      pages: [...this.refs],
      newPages,
    };
  }

  /**
   * Pages out of `rest`, as `spill` lays them out over the whole history: the pages to reuse while they come out the
   * same — waiting, before the last piece, until a page and PAGE_SIZE entries after it are there — then pages of
   * PAGE_SIZE while TAIL_SPILL_AT entries are.
   */
  private settle(last: boolean): NewPage[] {
    const pages: NewPage[] = [];
    let from = 0;
    while (this.reusing) {
      const ref = this.reuse[this.reused];
      if (ref === undefined || this.rest.length - from - ref.size < PAGE_SIZE) {
        if (ref === undefined || last) this.reusing = false;
        break;
      }
      const entries = markLate(this.rest.slice(from, from + ref.size));
      const startTally = encodeTally(this.base.tally);
      if (this.newPageId(entries, startTally) !== ref.id) {
        this.reusing = false;
        break;
      }
      pages.push(this.page(ref.id, entries, startTally));
      from += ref.size;
      this.reused += 1;
    }
    while (!this.reusing && this.rest.length - from >= TAIL_SPILL_AT) {
      const entries = markLate(this.rest.slice(from, from + PAGE_SIZE));
      const startTally = encodeTally(this.base.tally);
      pages.push(this.page(this.newPageId(entries, startTally), entries, startTally));
      from += PAGE_SIZE;
    }
    if (from > 0) this.rest = this.rest.slice(from);
    return pages;
  }

  private page(id: string, entries: LiveEntry[], startTally: string): NewPage {
    this.refs.push(pageRef(id, entries, startTally));
    this.base = stateAfter(entries, this.base, this.cap, this.halfLifeSeconds);
    return { id, entries, startTally };
  }
}
