import type { Candidate, ScorableEvent } from "@leadscore/contracts";
import {
  addToBreakdown,
  type BreakdownTally,
  decodeEntry,
  decodePage,
  emptyBreakdown,
  encodeBreakdown,
  encodeEntry,
  encodePage,
  encodeTally,
  entryEvent,
  foldLive,
  type LiveEntry,
  type LiveFoldState,
  PAGE_SIZE,
  type PageRef,
  pageRef,
  pageStarts,
  receivedAfterPages,
} from "@leadscore/live";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { layoutHistory, markLate, type NextState } from "../src/plan.ts";
import { refoldLate } from "../src/refold.ts";

const CAP = 1000;
const T0 = 1_800_000_000_000;

/** A lead as the deep lane sees it: its page refs and tail, and the pages' stored text by id. */
interface Lead {
  refs: PageRef[];
  tail: LiveEntry[];
  base: LiveFoldState;
  breakdown: BreakdownTally;
  stored: Map<string, string>;
  /** The tally before each page, as its document stores it. */
  tallies: Map<string, string>;
}

const ZERO: LiveFoldState = { score: 0, count: 0, reachedAt: null };

let ids = 0;
const newPageId = () => `p${++ids}`;

function event(id: string, timestamp: number, points: number, receivedAt: number): ScorableEvent {
  return { event_id: id, lead_id: "lead", event_type: "t", timestamp, received_at: receivedAt, points, rule_id: "r" };
}

/**
 * An event scored by v2 rules, by kind: 0 a v1 event (one rule's points), 1 a view at most 3 a day, 2 an email open
 * at most once per email in group "email" (max 40), 3 two rules (one in group "web", max 300), 4 a negative rule in
 * group "email", 5 no rule.
 */
function eventV2(id: string, timestamp: number, points: number, receivedAt: number, kind: number, variant: number) {
  const candidates: Candidate[][] = [
    [],
    [{ rule_id: "view", points: 5, limit: { max: 3, per: "day" } }],
    [
      {
        rule_id: "open",
        points: 10,
        limit: { max: 1, per: "lifetime", field: "metadata.email_id", key: `n${variant}` },
        group: { id: "email", max: 40 },
      },
    ],
    [
      { rule_id: "big", points, group: { id: "web", max: 300 } },
      { rule_id: "plain", points: 7 },
    ],
    [{ rule_id: "minus", points: -30, group: { id: "email", max: 40 } }],
    [],
  ];
  if (kind === 0) return event(id, timestamp, points, receivedAt);
  const matched = candidates[kind] as Candidate[];
  return {
    ...event(
      id,
      timestamp,
      matched.reduce((sum, c) => sum + c.points, 0),
      receivedAt,
    ),
    rule_id: matched[0]?.rule_id ?? null,
    candidates: matched,
    rules_version: 3,
  };
}

/** The lead a rebuild lays out for `events`. */
function leadOf(events: ScorableEvent[]): Lead {
  const entries = markLate(foldLive(events, CAP, ZERO).history);
  const { pages, tail, base, starts } = layoutHistory(entries, CAP);
  const stored = new Map<string, string>();
  const tallies = new Map<string, string>();
  const refs = pages.map((entries, n) => {
    const id = newPageId();
    stored.set(id, encodePage(entries));
    tallies.set(id, starts[n] ?? "");
    return pageRef(id, entries, starts[n]);
  });
  return { refs, tail, base, breakdown: addToBreakdown(emptyBreakdown(), entries, 1), stored, tallies };
}

/** Folds `waiting` in with refoldLate, reading pages from `lead.stored`; the lead after, and the pages it wrote. */
function refold(lead: Lead, waiting: ScorableEvent[]): { lead: Lead; next: NextState } {
  const result = refoldLate({
    pages: lead.refs,
    tail: lead.tail,
    waiting,
    cap: CAP,
    base: lead.base,
    breakdown: lead.breakdown,
    page: (id) => {
      const text = lead.stored.get(id);
      if (text === undefined) return undefined;
      const entries = decodePage("lead", text, CAP, ZERO);
      return { entries, events: entries.map(entryEvent), tally: lead.tallies.get(id) ?? "" };
    },
    newPageId,
  });
  if (result.kind !== "done") throw new Error("a page was missing");
  if (result.next.pages === null) throw new Error("the refold left the page list unsaid");
  const stored = new Map(lead.stored);
  const tallies = new Map(lead.tallies);
  for (const page of result.next.newPages) {
    stored.set(page.id, encodePage(page.entries));
    tallies.set(page.id, page.startTally);
  }
  const { pages, tail, base, breakdown } = result.next;
  return { lead: { refs: pages, tail, base, breakdown, stored, tallies }, next: result.next };
}

/**
 * Every entry of the lead as a reader places it: its pages, decoded after the pages before them and flagged late by
 * what follows them, then its tail.
 */
function historyOf(lead: Lead): LiveEntry[] {
  const starts = pageStarts(lead.refs);
  const after = receivedAfterPages(lead.refs, lead.tail);
  return [
    ...lead.refs.flatMap(({ id }, n) =>
      decodePage("lead", lead.stored.get(id) as string, CAP, starts[n] as (typeof starts)[number], after[n]),
    ),
    ...lead.tail,
  ];
}

const view = (entry: LiveEntry) => ({ ...entry, reason: "" });

/** Event times are spread this much: gaps of up to 3,000 become up to 10 hours, so day buckets turn. */
const SPREAD = 12_000;

describe("layoutHistory", () => {
  it("starts each page with the tally the fold has after the entries before it, laid out from stored entries", () => {
    const steps = fc.array(
      fc.record({
        points: fc.integer({ min: -40, max: 120 }),
        gap: fc.integer({ min: 1, max: 3_000 }),
        kind: fc.nat(5),
        variant: fc.nat(6),
      }),
      { minLength: 100, maxLength: 400 },
    );
    fc.assert(
      fc.property(steps, (items) => {
        let time = 0;
        const events = items.map((step, i) => {
          time += step.gap;
          const at = T0 + time * SPREAD;
          return eventV2(`e${i}`, at, step.points, at, step.kind, step.variant);
        });
        // The entries as a tail read back from Redis: their outcomes decoded, not the fold's own objects.
        const stored = markLate(foldLive(events, CAP, ZERO).history).map((entry) =>
          decodeEntry("lead", encodeEntry(entry), CAP),
        );
        const { pages, starts } = layoutHistory(stored);
        expect(pages.length).toBeGreaterThan(0);
        let before = 0;
        pages.forEach((page, n) => {
          expect(starts[n]).toBe(encodeTally(foldLive(events.slice(0, before), CAP, ZERO).state.tally));
          before += page.length;
        });
      }),
      { numRuns: 60 },
    );
  });
});

describe("refoldLate", () => {
  it("gives the exact fold of every event, whatever lands where, pass after pass", () => {
    const history = fc.array(
      fc.record({
        points: fc.integer({ min: -40, max: 120 }),
        gap: fc.integer({ min: 1, max: 3_000 }),
        receivedLag: fc.integer({ min: 0, max: 5_000 }),
        kind: fc.nat(5),
        variant: fc.nat(6),
      }),
      { minLength: 100, maxLength: 600 },
    );
    const pass = fc.array(
      fc.record({
        // Where in the history's time span the event lands, from before its first event to after its last.
        at: fc.noBias(fc.integer({ min: -50, max: 1_050 })).map((permille) => permille / 1_000),
        points: fc.integer({ min: -40, max: 120 }),
        kind: fc.nat(5),
        variant: fc.nat(6),
        // Received before some of the history (making entries before it late) or after all of it.
        receivedAt: fc.oneof(
          fc.noBias(fc.integer({ min: 0, max: 1_200 })).map((permille) => permille / 1_000),
          // Mostly after all of it, so the pages before the one it lands in stay clean and are kept.
          { weight: 3, arbitrary: fc.constant(2) },
        ),
        // A copy of an event already folded (its stored copy wins).
        duplicate: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    );
    fc.assert(
      fc.property(history, fc.array(pass, { minLength: 1, maxLength: 4 }), (steps, passes) => {
        let time = 0;
        const events = steps.map((step, i) => {
          time += step.gap;
          return eventV2(
            `e${i}`,
            T0 + time * SPREAD,
            step.points,
            T0 + time * SPREAD + step.receivedLag,
            step.kind,
            step.variant,
          );
        });
        const span = time * SPREAD;
        let lead = leadOf(events);
        const all = [...events];
        passes.forEach((waitingSpec, p) => {
          const waiting = waitingSpec.map((spec, i) =>
            spec.duplicate
              ? (all[Math.min(all.length - 1, Math.max(0, Math.floor(spec.at * all.length)))] as ScorableEvent)
              : eventV2(
                  `w${p}-${i}`,
                  Math.round(T0 + spec.at * span),
                  spec.points,
                  Math.round(T0 + spec.receivedAt * span),
                  spec.kind,
                  spec.variant,
                ),
          );
          for (const item of waiting) if (!all.some((known) => known.event_id === item.event_id)) all.push(item);
          const after = refold(lead, waiting);
          lead = after.lead;
          const whole = foldLive(all, CAP, ZERO);
          const want = markLate(whole.history);
          expect(historyOf(lead).map(view)).toEqual(want.map(view));
          // The tally after the last entry and the breakdown are the whole fold's.
          expect(encodeTally(after.next.tally)).toBe(encodeTally(whole.state.tally));
          expect(encodeBreakdown(lead.breakdown)).toBe(encodeBreakdown(addToBreakdown(emptyBreakdown(), want, 1)));
          // Pages stay within two pages' worth; the tail below the spill.
          for (const { size } of lead.refs) expect(size).toBeLessThan(2 * PAGE_SIZE);
          expect(lead.tail.length).toBeLessThan(2 * PAGE_SIZE);
        });
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it("rewrites only the pages a late event changes on a lead at its cap, however long the history after it", () => {
    // 2,000 events of +50: at the cap from the 20th on; 39 pages and a tail.
    const events = Array.from({ length: 2_000 }, (_, i) => event(`e${i}`, T0 + i * 1_000, 50, T0 + i * 1_000));
    const lead = leadOf(events);
    expect(lead.refs.length).toBe(39);
    // Late: between the 5th and 6th events, received after all of them.
    const late = event("late", T0 + 5_500, 300, T0 + 3_000_000);
    const { lead: after, next } = refold(lead, [late]);
    // Its page is written anew; every later page keeps its id, though each entry's position moved by one.
    expect(next.newPages.map((page) => page.entries.length)).toEqual([PAGE_SIZE + 1]);
    expect(after.refs.slice(1).map(({ id }) => id)).toEqual(lead.refs.slice(1).map(({ id }) => id));
    const want = markLate(foldLive([...events, late], CAP, ZERO).history);
    expect(historyOf(after).map(view)).toEqual(want.map(view));
    // The cap is now reached at the 14th event instead of the 20th: every later entry says so.
    expect(historyOf(after).at(-1)?.score_reached_at).toBe(T0 + 13_000);
  });

  it("asks for the pages it needs but does not have, a few at a time", () => {
    const events = Array.from({ length: 600 }, (_, i) => event(`e${i}`, T0 + i * 1_000, 10, T0 + i * 1_000));
    const lead = leadOf(events);
    const result = refoldLate({
      pages: lead.refs,
      tail: lead.tail,
      waiting: [event("late", T0 + 120_500, 10, T0 + 10_000_000)],
      cap: CAP,
      base: ZERO,
      breakdown: emptyBreakdown(),
      page: () => undefined,
      newPageId,
    });
    expect(result).toEqual({ kind: "missing", pages: lead.refs.slice(2, 6).map(({ id }) => id) });
  });
});
