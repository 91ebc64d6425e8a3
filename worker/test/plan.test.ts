import { type ScorableEvent, sortKey } from "@leadscore/contracts";
import {
  addToBreakdown,
  emptyBreakdown,
  encodeEntry,
  foldLive,
  historySpans,
  type LiveEntry,
  type LiveFoldState,
  type LiveLead,
  PAGE_SIZE,
  pageRef,
  TAIL_SPILL_AT,
} from "@leadscore/live";
import { describe, expect, it } from "vitest";
import { layoutHistory, markLate, type NextState, planLead } from "../src/plan.ts";

const CAP = 1000;
let pageCounter = 0;
const newPageId = () => `page-${++pageCounter}`;

function event(id: string, timestamp: number, points = 10, receivedAt = timestamp): ScorableEvent {
  return {
    event_id: id,
    lead_id: "lead",
    event_type: "page_view",
    timestamp,
    received_at: receivedAt,
    points,
    rule_id: "r",
  };
}

/** The live state a lead has after folding `events` (pages named but their entries left out, as in Redis). */
function leadAfter(events: ScorableEvent[]): LiveLead {
  const entries = markLate(foldLive(events, CAP, ZERO).history);
  const { pages, tail, base } = layoutHistory(entries);
  const refs = pages.map((page, n) => pageRef(`old-${n}`, page));
  const last = entries.at(-1) as LiveEntry;
  return {
    id: "lead",
    name: null,
    email: null,
    company: null,
    score: last.score,
    stage: "cold",
    count: last.seq,
    lastKey: last.sort_key,
    reachedAt: last.score_reached_at,
    lastEventAt: last.timestamp,
    version: 3,
    createdAt: 1,
    updatedAt: 1,
    tail,
    base,
    breakdown: addToBreakdown(emptyBreakdown(), entries, 1),
    pages: refs,
  };
}

const ZERO: LiveFoldState = { score: 0, count: 0, reachedAt: null };

const committed = (plan: ReturnType<typeof planLead>): NextState => {
  if (plan.kind !== "commit") throw new Error(`expected a commit, got ${plan.kind}`);
  return plan.next;
};

const series = (count: number, from = 0, step = 10) =>
  Array.from({ length: count }, (_, i) => event(`e${String(from + i).padStart(4, "0")}`, 1_000 + (from + i) * step));

describe("planLead", () => {
  describe("when a new lead's first events arrive", () => {
    it("folds them from zero, in event-time order", () => {
      const next = committed(planLead(null, [event("b", 2_000, 600), event("a", 1_000, 600)], [], CAP, newPageId));
      expect(next.tail.map((entry) => [entry.event_id, entry.score])).toEqual([
        ["a", 600],
        ["b", 1000],
      ]);
      expect(next).toMatchObject({ score: 1000, count: 2, lastKey: sortKey(2_000, "b"), newPages: [] });
    });
  });

  describe("when events are only appended to the tail", () => {
    it("encodes each new entry once: the newest entry is the text the append ends with", () => {
      const next = committed(planLead(null, [event("b", 2_000, 30), event("a", 1_000, 20)], [], CAP, newPageId));
      const appended = next.appended as NonNullable<NextState["appended"]>;
      expect(appended.added).toBe(next.tail.map((entry) => JSON.stringify(encodeEntry(entry))).join(","));
      expect(appended.added.endsWith(appended.newest)).toBe(true);
      expect(JSON.parse(appended.newest)).toEqual(encodeEntry(next.tail.at(-1) as LiveEntry));
    });
  });

  describe("when a late event lands inside the tail", () => {
    it("slots it in and recomputes every later entry (the DESIGN example)", () => {
      const lead = leadAfter([event("t1", 1_000, 600), event("t3", 3_000, 600)]);
      const next = committed(planLead(lead, [event("t2", 2_000, 100, 4_000)], [], CAP, newPageId));
      expect(next.tail.map((entry) => [entry.event_id, entry.delta, entry.score, entry.late])).toEqual([
        ["t1", 600, 600, false],
        ["t2", 100, 700, true],
        ["t3", 300, 1000, false],
      ]);
    });
  });

  describe("when an event is older than the tail and older history is in pages", () => {
    it("hands the lead to the deep lane with the event", () => {
      const lead = leadAfter(series(160));
      expect(lead.pages.length).toBeGreaterThan(0);
      const late = event("old", 1_005);
      expect(planLead(lead, [late], [], CAP, newPageId)).toEqual({ kind: "divert", mode: "pages", pending: [late] });
    });
  });

  describe("when a duplicate's event is not in the tail", () => {
    it("asks the deep lane to rescan the stored events, since it may never have been folded", () => {
      const lead = leadAfter(series(3));
      const fresh = event("new", 99_999);
      expect(planLead(lead, [fresh], [event("elsewhere", 5)], CAP, newPageId)).toEqual({
        kind: "divert",
        mode: "rescan",
        pending: [fresh],
      });
    });
  });

  describe("when the events were already folded by another round", () => {
    it("does nothing for them", () => {
      const events = series(5);
      const lead = leadAfter(events);
      expect(planLead(lead, events.slice(3), events.slice(0, 2), CAP, newPageId)).toEqual({ kind: "noop" });
    });
  });

  describe("when the tail reaches two pages' worth", () => {
    it("spills whole pages and keeps the fold state before the tail", () => {
      const first = series(TAIL_SPILL_AT - 1);
      const lead = leadAfter(first);
      expect(lead.pages).toEqual([]);
      const next = committed(planLead(lead, series(1, TAIL_SPILL_AT - 1), [], CAP, newPageId));
      expect(next.newPages).toHaveLength(1);
      expect(next.newPages[0]?.entries.map((entry) => entry.seq)).toEqual(
        Array.from({ length: PAGE_SIZE }, (_, i) => i + 1),
      );
      expect(next.tail[0]?.seq).toBe(PAGE_SIZE + 1);
      const lastPaged = next.newPages[0]?.entries.at(-1) as LiveEntry;
      expect(next.base).toEqual({
        score: lastPaged.score,
        count: PAGE_SIZE,
        reachedAt: lastPaged.score_reached_at,
        at: lastPaged.timestamp,
      });
      // The same layout a rebuild gives for the same history.
      const whole = markLate(foldLive(series(TAIL_SPILL_AT), CAP, ZERO).history);
      expect(layoutHistory(whole).tail.map((entry) => entry.event_id)).toEqual(next.tail.map((e) => e.event_id));
    });
  });
});

describe("the score chart's spans of the pages", () => {
  it("are the same whether pages spill one by one or a rebuild lays out the whole history", () => {
    const events = series(PAGE_SIZE * 300, 0, 1).map((e, i) => ({ ...e, points: i % 7 === 0 ? -20 : 3 }));
    let lead = leadAfter(events.slice(0, TAIL_SPILL_AT - 1));
    for (let from = TAIL_SPILL_AT - 1; from < events.length; from += 37) {
      const next = committed(planLead(lead, events.slice(from, from + 37), [], CAP, newPageId));
      // The commit script appends the refs of pages spilled from a lead whose page list the round did not read.
      const pages = next.pages ?? [...lead.pages, ...next.newPages.map((page) => pageRef(page.id, page.entries))];
      lead = { ...lead, ...next, pages, lastKey: next.lastKey };
    }
    const whole = layoutHistory(markLate(foldLive(events, CAP, ZERO).history));
    const wholeRefs = whole.pages.map((page, n) => pageRef(`whole-${n}`, page));
    expect(lead.pages).toHaveLength(whole.pages.length);
    expect(historySpans({ pages: lead.pages, tail: [] })).toEqual(historySpans({ pages: wholeRefs, tail: [] }));
  });
});

describe("markLate", () => {
  it("flags an event received after one with a later event time", () => {
    const entries = foldLive([event("a", 1, 10, 50), event("b", 2, 10, 10), event("c", 3, 10, 60)], CAP, ZERO).history;
    expect(markLate(entries).map((entry) => [entry.event_id, entry.late])).toEqual([
      ["a", true],
      ["b", false],
      ["c", false],
    ]);
  });
});
