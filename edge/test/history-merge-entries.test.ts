// The derivation of a history's merge entries from the merge log, alone: the score at the merge's instant (decayed
// with a half-life), and only the merges a span of entries bounds.
import { sortKey } from "@leadscore/contracts";
import type { LiveEntry, MergeRecord } from "@leadscore/live";
import { describe, expect, it } from "vitest";
import { deriveMergeEntries } from "../src/routes/leads/history-merge.ts";

const T = Date.parse("2026-03-01T00:00:00Z");

/** An event entry with only the fields the derivation reads. */
const entry = (seq: number, timestamp: number, score: number) =>
  ({ event_id: `e${seq}`, seq, timestamp, score, sort_key: sortKey(timestamp, `e${seq}`) }) as unknown as LiveEntry;

const record = (from: string, at: number): MergeRecord => ({
  from,
  into: "ada",
  at,
  events: 1,
  scoreBefore: 150,
  scoreAfter: 200,
});

describe("deriving merge entries", () => {
  it("gives a merge the score of the entry before it, decayed to the merge with a half-life", () => {
    const span = [entry(1, T, 200), entry(2, T + 120_000, 210)];
    const merges = [record("anon-1", T + 60_000)];
    const plain = deriveMergeEntries("ada", span, merges, { count: 2, halfLifeSeconds: null });
    expect(plain.map((e) => [e.event_id, e.score, e.reason])).toEqual([
      ["merge:anon-1", 200, "merged from anon-1 (1 event)"],
    ]);
    const decayed = deriveMergeEntries("ada", span, merges, { count: 2, halfLifeSeconds: 60 });
    expect(decayed.map((e) => e.score)).toEqual([100]);
    expect(decayed[0]?.merge).toEqual({ from: "anon-1", events: 1, score_before: 150, score_after: 200 });
  });

  it("derives a merge before the span only when the span starts the history, at 0, and after it only when it ends it", () => {
    const merges = [record("early", T - 1), record("late", T + 10 * 60_000)];
    const middle = [entry(5, T, 50), entry(6, T + 60_000, 60)];
    expect(deriveMergeEntries("ada", middle, merges, { count: 9, halfLifeSeconds: null })).toEqual([]);
    const whole = [entry(1, T, 50), entry(2, T + 60_000, 60)];
    const derived = deriveMergeEntries("ada", whole, merges, { count: 2, halfLifeSeconds: null });
    expect(derived.map((e) => [e.event_id, e.score])).toEqual([
      ["merge:early", 0],
      ["merge:late", 60],
    ]);
  });
});
