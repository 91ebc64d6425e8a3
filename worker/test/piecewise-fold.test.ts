import { compareEvents, type ScorableEvent } from "@leadscore/contracts";
import { PAGE_SIZE, type PageRef, pageRef } from "@leadscore/live";
import { createRandom } from "@leadscore/load-tests/random";
import { describe, expect, it } from "vitest";
import { contentPageId } from "../src/page-id.ts";
import { PiecewiseFold } from "../src/piecewise-fold.ts";
import { foldWholeHistory, markLate, type NewPage, type NextState } from "../src/plan.ts";

const CAP = 1000;
const T0 = Date.UTC(2026, 0, 1);
const pageId = (entries: Parameters<typeof contentPageId>[1], startTally: string) =>
  contentPageId("lead", entries, startTally);

/** `count` events of one lead in event-time order: received out of order (late ones), with limits and groups. */
function events(seed: number, count: number): ScorableEvent[] {
  const next = createRandom(seed);
  const list: ScorableEvent[] = Array.from({ length: count }, (_, i) => {
    const kind = Math.floor(next() * 4);
    const candidates = [
      { rule_id: "view", points: 3 },
      { rule_id: "open", points: 5, limit: { max: 3, per: "day" as const } },
      { rule_id: "demo", points: 40, group: { id: "intent", max: 120 } },
      { rule_id: "unsub", points: -30 },
    ].slice(kind, kind + 1 + (i % 2));
    const timestamp = T0 + Math.floor(i / 3) * 3_600_000 + Math.floor(next() * 3) * 1_000;
    return {
      event_id: `e${String(i).padStart(6, "0")}`,
      lead_id: "lead",
      event_type: candidates[0]?.rule_id ?? "view",
      timestamp,
      received_at: timestamp + Math.floor(next() * 20) * 60_000,
      points: 0,
      rule_id: null,
      candidates,
      rules_version: 1,
    };
  });
  return list.sort(compareEvents);
}

/** The fold in pieces of `size`, with the pages it wrote as they settled. */
function inPieces(list: readonly ScorableEvent[], size: number, halfLife: number | null, reuse: readonly PageRef[]) {
  const fold = new PiecewiseFold(CAP, pageId, halfLife, reuse);
  const written = [];
  let held = 0;
  for (let from = 0; from < list.length; from += size) {
    written.push(...fold.add(list.slice(from, from + size)));
    held = Math.max(held, (fold as unknown as { rest: unknown[] }).rest.length);
  }
  const next = fold.finish();
  return { next, written: [...written, ...next.newPages], held };
}

const without = (next: NextState) => ({ ...next, newPages: [] });

describe("a lead's history folded a piece at a time", () => {
  for (const [count, size, halfLife] of [
    [1, 1, null],
    [99, 7, null],
    [100, 100, null],
    [1_237, 13, null],
    [1_237, 500, 86_400],
    [3_001, 1, null],
  ] as const) {
    it(`gives what the fold of all ${count} events gives, in pieces of ${size}${halfLife ? ", with decay" : ""}`, () => {
      const list = events(count, count);
      const whole = foldWholeHistory(list, CAP, pageId, halfLife);
      const { next, written, held } = inPieces(list, size, halfLife, []);
      expect(without(next)).toEqual(without(whole));
      expect(written).toEqual(whole.newPages);
      // Entries held outside pages: a tail's worth and the piece, whatever the number of events.
      expect(held).toBeLessThan(2 * PAGE_SIZE + size);
    });
  }

  it("reuses the pages of the previous layout while they come out the same, as the whole fold does", () => {
    const list = events(7, 1_500);
    const fresh = foldWholeHistory(list, CAP, pageId);
    const entries = [...fresh.newPages.flatMap((page) => page.entries), ...fresh.tail];
    // A layout where a late event had grown the 4th page to 60 entries: followed up to there, then laid out anew.
    const grown = markLate(entries.slice(3 * PAGE_SIZE, 3 * PAGE_SIZE + 60));
    const start = (fresh.newPages[3] as NewPage).startTally;
    const reuse = [...(fresh.pages ?? []).slice(0, 3), pageRef(pageId(grown, start), grown, start)];
    const whole = foldWholeHistory(list, CAP, pageId, null, reuse);
    expect(whole.newPages[3]?.entries).toHaveLength(60);
    for (const size of [1, 37, 1_500]) {
      const { next, written } = inPieces(list, size, null, reuse);
      expect(without(next)).toEqual(without(whole));
      expect(written).toEqual(whole.newPages);
    }
  });
});
