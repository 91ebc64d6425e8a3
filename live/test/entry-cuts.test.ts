import type { Candidate, ScorableEvent } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { type CompactEntry, decodeEntry, encodeEntry, type LiveEntry } from "../src/codec.ts";
import { foldLive } from "../src/fold.ts";

const T = Date.parse("2026-03-02T10:00:00Z");
const open: Candidate = {
  rule_id: "open",
  points: 5,
  limit: { max: 1, per: "lifetime", field: "metadata.email_id", key: "m-1" },
  group: { id: "email", max: 8 },
};

function event(id: string, at: number, candidates: Candidate[]): ScorableEvent {
  const points = candidates.reduce((sum, c) => sum + c.points, 0);
  return {
    event_id: id,
    lead_id: "a",
    event_type: "email_open",
    timestamp: at,
    received_at: at,
    points,
    rule_id: candidates[0]?.rule_id ?? null,
    candidates,
    rules_version: 3,
  };
}

describe("when an entry's rules were cut by their limit, their group or the floor", () => {
  const events = [
    event("e1", T, [open]),
    event("e2", T + 1, [open]),
    event("e3", T + 2, [{ rule_id: "click", points: 5, group: { id: "email", max: 8 } }]),
    event("e4", T + 3, [{ rule_id: "bounce", points: -50 }]),
  ];
  const entries: LiveEntry[] = foldLive(events, 1000, { score: 0, count: 0, reachedAt: null }).history.map((entry) => ({
    ...entry,
    late: false,
  }));

  it("stores each cut its candidate spells out as a letter", () => {
    expect(entries.map((entry) => entry.rules.flatMap((rule) => rule.cuts))).toEqual([
      [],
      ["limit 1 per lifetime for this metadata.email_id reached"],
      ['group "email" at its max 8'],
      ["floored at 0"],
    ]);
    const stored = JSON.stringify(entries.map(encodeEntry));
    expect(stored).not.toMatch(/reached|at its max|floored/);
  });

  it("reads every entry back as it was folded, reasons included", () => {
    const read = entries.map((entry) =>
      decodeEntry("a", JSON.parse(JSON.stringify(encodeEntry(entry))) as CompactEntry, 1000),
    );
    expect(read).toEqual(entries);
  });

  it("reads a cut stored as its text as that text", () => {
    const compact = encodeEntry(entries[1] as LiveEntry);
    const outcome = (compact[12] as unknown[][])[0] as unknown[];
    expect(outcome.at(-1)).toEqual(["l"]);
    outcome[outcome.length - 1] = ["limit 1 per lifetime for this metadata.email_id reached"];
    expect(decodeEntry("a", compact, 1000)).toEqual(entries[1]);
  });
});
