import { compileRuleSet, DEFAULT_STAGE_THRESHOLDS, type RuleSet } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import type { StreamedEvent } from "../src/lead-event-stream.ts";
import { createPreviewTally, MOVERS, rescoreLead } from "../src/rescore-diff.ts";

const T0 = Date.UTC(2026, 0, 1);
const CAP = 1000;

/** `n` demo requests stored under a rule worth 50, and a page view whose metadata the draft's condition reads. */
function lead(id: string, n: number): StreamedEvent[] {
  const events: StreamedEvent[] = Array.from({ length: n }, (_, i) => ({
    event_id: `${id}-d${i}`,
    lead_id: id,
    event_type: "demo_request",
    timestamp: T0 + i * 60_000,
    received_at: T0,
    points: 50,
    rule_id: "demo",
    candidates: [{ rule_id: "demo", points: 50 }],
    rules_version: 1,
    metadata: {},
  }));
  events.push({
    event_id: `${id}-v`,
    lead_id: id,
    event_type: "page_view",
    timestamp: T0 + n * 60_000,
    received_at: T0,
    points: 0,
    rule_id: null,
    candidates: [],
    rules_version: 1,
    metadata: { path: "/pricing" },
  });
  return events;
}

const DRAFT: RuleSet = {
  version: 0,
  groups: [],
  rules: [
    { _id: "demo", label: "Demo", event_type: "demo_request", points: 100, active: true },
    {
      _id: "pricing",
      label: "Pricing",
      event_type: "page_view",
      points: 20,
      active: true,
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
    },
  ],
};

describe("re-scoring a lead under a draft", () => {
  it("matches its events again under the draft, beside its fold as stored", () => {
    const rescored = rescoreLead("a", lead("a", 3), compileRuleSet(DRAFT), null, CAP);
    expect(rescored.before.score).toBe(150);
    expect(rescored.after.score).toBe(320);
    expect(rescored.after.history.at(-1)?.rules).toEqual([
      { rule_id: "pricing", group: null, asked: 20, given: 20, cuts: [] },
    ]);
  });
});

describe("adding up a preview", () => {
  it("keeps the movers that move most, with each rule's difference, and counts every lead", () => {
    const tally = createPreviewTally(CAP, DEFAULT_STAGE_THRESHOLDS);
    const rules = compileRuleSet(DRAFT);
    for (let i = 0; i < 80; i++)
      tally.add(rescoreLead(`l${String(i).padStart(2, "0")}`, lead(`l${i}`, i % 12), rules, null, CAP));
    const result = tally.result();
    expect(result.leads).toBe(80);
    expect(result.changed).toBe(80);
    expect(result.movers).toHaveLength(MOVERS);
    // 10 demo requests: 500 → 1000 (the cap; the pricing view then gives 0), the most; ties by id.
    expect(result.movers[0]).toMatchObject({ lead_id: "l10", before: 500, after: 1000, delta: 500 });
    expect(result.movers[0]?.rules).toEqual([{ rule_id: "demo", before: 500, after: 1000 }]);
    expect(result.movers.slice(0, 6).map((mover) => mover.lead_id)).toEqual(["l10", "l22", "l34", "l46", "l58", "l70"]);
    const deltas = result.movers.map((mover) => Math.abs(mover.delta));
    expect(deltas).toEqual([...deltas].sort((a, b) => b - a));
    // The leads that move least (no demo request: +20) are left out.
    expect(result.movers.some((mover) => mover.delta === 20)).toBe(false);
    expect(result.histogram.before.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(80);
    expect(result.histogram.after.at(-1)).toEqual({ from: 1000, to: 1000, count: 12 });
    expect(
      Object.values(result.matrix)
        .flatMap(Object.values)
        .reduce((a: number, b) => a + (b as number), 0),
    ).toBe(80);
  });
});
