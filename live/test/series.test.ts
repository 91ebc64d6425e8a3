import { DEFAULT_SCORE_CAP, type ScorableEvent } from "@leadscore/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns } from "../../test-support/property.ts";
import { keyTime, type LiveEntry, pageRef } from "../src/codec.ts";
import { foldLive } from "../src/fold.ts";
import { bucketSpans, historySpans, type ScoreSpan } from "../src/series.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** A folded history of events at the given gaps (ms) with the given points, as live entries. */
function historyOf(steps: readonly { gap: number; points: number }[]): LiveEntry[] {
  let at = T0;
  const events: ScorableEvent[] = steps.map((step, i) => {
    at += step.gap;
    const id = `e${String(i).padStart(4, "0")}`;
    return {
      event_id: id,
      lead_id: "l",
      event_type: "t",
      timestamp: at,
      received_at: at,
      points: step.points,
      rule_id: "r",
    };
  });
  return foldLive(events, DEFAULT_SCORE_CAP, { score: 0, count: 0, reachedAt: null }).history.map((entry) => ({
    ...entry,
    late: false,
  }));
}

/** The history cut into pages at `cuts` (sizes), the rest in the tail. */
function layout(entries: LiveEntry[], sizes: readonly number[]) {
  const pages = [];
  let from = 0;
  for (const size of sizes) {
    if (from + size > entries.length) break;
    pages.push(pageRef(`p${pages.length}`, entries.slice(from, from + size)));
    from += size;
  }
  return { pages, tail: entries.slice(from) };
}

/** What a span must say of the entries it covers. */
function spanOf(run: readonly LiveEntry[]): ScoreSpan {
  const scores = run.map((entry) => entry.score);
  return {
    from: (run[0] as LiveEntry).timestamp,
    to: (run.at(-1) as LiveEntry).timestamp,
    first: scores[0] as number,
    last: scores.at(-1) as number,
    min: Math.min(...scores),
    max: Math.max(...scores),
    entries: run.length,
  };
}

describe("bucketing a lead's score series", () => {
  it("is exact: the spans cover every entry once, in order, each with its entries' first, last, lowest and highest score", () => {
    const reached = { wide: 0, merged: 0, paged: 0 };
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3_600_000 })),
            points: fc.integer({ min: -300, max: 300 }),
          }),
          { maxLength: 400, size: "max" },
        ),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 10 }),
        fc.integer({ min: 1, max: 700 }),
        (steps, sizes, buckets) => {
          const entries = historyOf(steps);
          const lead = layout(entries, sizes);
          if (lead.pages.length > 0) reached.paged += 1;
          const spans = bucketSpans(historySpans(lead), buckets);
          let next = 0;
          for (const span of spans) {
            expect(span).toEqual(spanOf(entries.slice(next, next + span.entries)));
            next += span.entries;
            if (span.entries > 1) reached.merged += 1;
          }
          expect(next).toBe(entries.length);
          const width = ((entries.at(-1)?.timestamp ?? 0) - (entries[0]?.timestamp ?? 0)) / buckets;
          // At most one span per bucket, besides the pages wider than a bucket, which stand alone.
          const wide = lead.pages.filter((ref) => ref.lastEventAt - keyTime(ref.firstKey) > width).length;
          reached.wide += wide;
          expect(spans.length).toBeLessThanOrEqual(buckets + wide);
        },
      ),
      propertyRuns(300),
    );
    // The runs reached what they are for: pages, pages wider than a bucket, runs merged into one span.
    expect(reached.paged).toBeGreaterThan(50);
    expect(reached.wide).toBeGreaterThan(20);
    expect(reached.merged).toBeGreaterThan(50);
  });

  it("keeps a page's lowest and highest score, between its first and last", () => {
    // Up 60, down to 0, up 10: a page whose ends say 60 … 10 but which touched 0 and 70.
    const entries = historyOf([
      { gap: 1000, points: 60 },
      { gap: 1000, points: 10 },
      { gap: 1000, points: -100 },
      { gap: 1000, points: 10 },
    ]);
    const lead = layout(entries, [4]);
    expect(bucketSpans(historySpans(lead), 1)).toEqual([
      { from: T0 + 1000, to: T0 + 4000, first: 60, last: 10, min: 0, max: 70, entries: 4 },
    ]);
  });

  it("has one span per entry when every entry has a bucket of its own, and none without entries", () => {
    const entries = historyOf(Array.from({ length: 120 }, () => ({ gap: 3_600_000, points: 5 })));
    const spans = bucketSpans(historySpans(layout(entries, [])), 600);
    expect(spans.map((span) => span.last)).toEqual(entries.map((entry) => entry.score));
    expect(bucketSpans([], 600)).toEqual([]);
  });
});
