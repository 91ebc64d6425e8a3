import { DEFAULT_STAGE_THRESHOLDS, type ScorableEvent } from "@leadscore/contracts";
import { decodeLead, LEAD_FIELDS, type LiveLead } from "@leadscore/live";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planLead } from "../src/plan.ts";
import { liveFields } from "../src/scorer.ts";

const CAP = 1000;
const AT = 1_800_000_000_000;

/** A lead as the scorer reads it: its hash fields through HMGET of LEAD_FIELDS. */
const read = (hash: Record<string, string>): LiveLead | null =>
  decodeLead(
    "lead",
    LEAD_FIELDS.map((field) => hash[field] ?? null),
    CAP,
    DEFAULT_STAGE_THRESHOLDS,
  );

/** The same lead without what an append needs, so the planner decodes and folds the whole tail. */
const withoutStored = (lead: LiveLead | null): LiveLead | null => (lead ? { ...lead, stored: undefined } : null);

/** Plans a round and applies its fields to the hash, as the commit script does. */
function round(hash: Record<string, string>, lead: LiveLead | null, batch: ScorableEvent[], pageId: () => string) {
  const plan = planLead(lead, batch, [], CAP, pageId);
  if (plan.kind !== "commit") return { hash, appended: false, diverted: plan.kind === "divert" };
  const fields = liveFields(plan.next, lead, AT, DEFAULT_STAGE_THRESHOLDS);
  const version = String(Number(hash.v ?? "0") + 1);
  return { hash: { ...hash, ...fields, v: version }, appended: plan.next.appended !== undefined, diverted: false };
}

const batches = fc.array(
  fc.array(
    fc.record({
      ahead: fc.integer({ min: -3_000, max: 5_000 }),
      points: fc.integer({ min: -60, max: 120 }),
      receivedLag: fc.integer({ min: -2_000, max: 2_000 }),
    }),
    { minLength: 1, maxLength: 40 },
  ),
  { minLength: 1, maxLength: 12 },
);

describe("when a round only appends to a lead's tail", () => {
  it("writes exactly the fields a fold of the whole decoded tail writes", () => {
    let appends = 0;
    fc.assert(
      fc.property(batches, (rounds) => {
        let fast: Record<string, string> = {};
        let full: Record<string, string> = {};
        let clock = 1_000_000;
        let sequence = 0;
        let fastPages = 0;
        let fullPages = 0;
        for (const spec of rounds) {
          const batch = spec.map(({ ahead, points, receivedLag }) => {
            clock += 1;
            sequence += 1;
            const timestamp = clock + ahead;
            return {
              event_id: `e${sequence}`,
              lead_id: "lead",
              event_type: "page_view",
              timestamp,
              received_at: clock + 10_000 + receivedLag,
              points,
              rule_id: "r",
            };
          });
          const a = round(fast, read(fast), batch, () => `p${++fastPages}`);
          const before = withoutStored(read(full));
          const b = round(full, before, batch, () => `p${++fullPages}`);
          if (a.diverted || b.diverted) return;
          // A new lead has no tail to decode: both take the append.
          if (before !== null) expect(b.appended).toBe(false);
          if (a.appended) appends += 1;
          fast = a.hash;
          full = b.hash;
          expect(fast).toEqual(full);
        }
      }),
      { numRuns: 300, seed: 42 },
    );
    // The property says something only if appends happened.
    expect(appends).toBeGreaterThan(100);
  });

  it("decodes the tail only when it is read", () => {
    const first = round({}, null, [event("a", 1_000), event("b", 2_000)], () => "p");
    const lead = read(first.hash) as LiveLead;
    expect(first.appended).toBe(true);
    const next = round(first.hash, lead, [event("c", 3_000)], () => "p");
    expect(next.appended).toBe(true);
    expect(JSON.parse(next.hash.t as string).map((entry: unknown[]) => entry[0])).toEqual(["a", "b", "c"]);
  });
});

function event(id: string, timestamp: number): ScorableEvent {
  return {
    event_id: id,
    lead_id: "lead",
    event_type: "page_view",
    timestamp,
    received_at: timestamp,
    points: 10,
    rule_id: "r",
  };
}
