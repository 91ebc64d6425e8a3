import { foldScores, type ScorableEvent } from "@leadscore/contracts";
import {
  decodeEvent,
  decodePage,
  encodePage,
  type LiveEntry,
  PAGE_SIZE,
  type PageEntry,
  type PageRef,
  pageRef,
  pageStarts,
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
  stored: Map<string, string>;
}

let ids = 0;
const newPageId = () => `p${++ids}`;

function event(id: string, timestamp: number, points: number, receivedAt: number): ScorableEvent {
  return { event_id: id, lead_id: "lead", event_type: "t", timestamp, received_at: receivedAt, points, rule_id: "r" };
}

/** The lead a rebuild lays out for `events`. */
function leadOf(events: ScorableEvent[]): Lead {
  const { pages, tail } = layoutHistory(markLate(foldScores(events, CAP, 0).history));
  const stored = new Map<string, string>();
  const refs = pages.map((entries) => {
    const id = newPageId();
    stored.set(id, encodePage(entries));
    return pageRef(id, entries);
  });
  return { refs, tail, stored };
}

/** Folds `waiting` in with refoldLate, reading pages from `lead.stored`; the lead after, and the pages it wrote. */
function refold(lead: Lead, waiting: ScorableEvent[]): { lead: Lead; next: NextState } {
  const result = refoldLate({
    pages: lead.refs,
    tail: lead.tail,
    waiting,
    cap: CAP,
    pageEvents: (id) => {
      const text = lead.stored.get(id);
      return text === undefined ? undefined : (JSON.parse(text) as PageEntry[]).map((e) => decodeEvent("lead", e));
    },
    newPageId,
  });
  if (result.kind !== "done") throw new Error("a page was missing");
  if (result.next.pages === null) throw new Error("the refold left the page list unsaid");
  const stored = new Map(lead.stored);
  for (const page of result.next.newPages) stored.set(page.id, encodePage(page.entries));
  return { lead: { refs: result.next.pages, tail: result.next.tail, stored }, next: result.next };
}

/** Every entry of the lead as a reader places it: its pages, decoded after the pages before them, then its tail. */
function historyOf(lead: Lead): LiveEntry[] {
  const starts = pageStarts(lead.refs);
  return [
    ...lead.refs.flatMap(({ id }, n) =>
      decodePage("lead", lead.stored.get(id) as string, CAP, starts[n] as (typeof starts)[number]),
    ),
    ...lead.tail,
  ];
}

const view = (entry: LiveEntry) => ({ ...entry, reason: "" });

describe("refoldLate", () => {
  it("gives the exact fold of every event, whatever lands where, pass after pass", () => {
    const history = fc.array(
      fc.record({
        points: fc.integer({ min: -40, max: 120 }),
        gap: fc.integer({ min: 1, max: 3_000 }),
        receivedLag: fc.integer({ min: 0, max: 5_000 }),
      }),
      { minLength: 100, maxLength: 600 },
    );
    const pass = fc.array(
      fc.record({
        // Where in the history's time span the event lands, from before its first event to after its last.
        at: fc.double({ min: -0.05, max: 1.05, noNaN: true }),
        points: fc.integer({ min: -40, max: 120 }),
        // Received before some of the history (making entries before it late) or after all of it.
        receivedAt: fc.double({ min: 0, max: 1.2, noNaN: true }),
        // A copy of an event already folded (its stored copy wins).
        duplicate: fc.boolean(),
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(history, fc.array(pass, { minLength: 1, maxLength: 4 }), (steps, passes) => {
        let time = T0;
        const events = steps.map((step, i) => {
          time += step.gap;
          return event(`e${i}`, time, step.points, time + step.receivedLag);
        });
        const span = time - T0;
        let lead = leadOf(events);
        const all = [...events];
        passes.forEach((waitingSpec, p) => {
          const waiting = waitingSpec.map((spec, i) =>
            spec.duplicate
              ? (all[Math.min(all.length - 1, Math.max(0, Math.floor(spec.at * all.length)))] as ScorableEvent)
              : event(
                  `w${p}-${i}`,
                  Math.round(T0 + spec.at * span),
                  spec.points,
                  Math.round(T0 + spec.receivedAt * span),
                ),
          );
          for (const item of waiting) if (!all.some((known) => known.event_id === item.event_id)) all.push(item);
          lead = refold(lead, waiting).lead;
          const want = markLate(foldScores(all, CAP, 0).history);
          expect(historyOf(lead).map(view)).toEqual(want.map(view));
          // Pages stay within two pages' worth; the tail below the spill.
          for (const { size } of lead.refs) expect(size).toBeLessThan(2 * PAGE_SIZE);
          expect(lead.tail.length).toBeLessThan(2 * PAGE_SIZE);
        });
      }),
      { numRuns: 150 },
    );
  });

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
    const want = markLate(foldScores([...events, late], CAP, 0).history);
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
      pageEvents: () => undefined,
      newPageId,
    });
    expect(result).toEqual({ kind: "missing", pages: lead.refs.slice(2, 6).map(({ id }) => id) });
  });
});
