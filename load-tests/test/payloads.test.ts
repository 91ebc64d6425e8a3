import { EVENT_TYPE_PATTERN, ID_PATTERN, normalizeEvent } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import {
  createEventGenerator,
  createRunId,
  type EventKind,
  leadIdFor,
  type PlannedEvent,
  REALISTIC_MIX,
  runIdRange,
} from "../src/payloads.ts";
import { createRandom, createZipf } from "../src/random.ts";

const NOW = Date.UTC(2026, 0, 15, 12);

function draw(count: number, seed = 7): PlannedEvent[] {
  const generator = createEventGenerator({
    runId: "ltrun",
    source: "t",
    mix: REALISTIC_MIX,
    random: createRandom(seed),
  });
  return Array.from({ length: count }, (_, i) => generator.next(NOW + i));
}

describe("the Zipf lead distribution", () => {
  it("gives the hottest leads the share the exponent implies", () => {
    const n = 10_000;
    const zipf = createZipf(n, 1, createRandom(1));
    const draws = 200_000;
    const hits = new Float64Array(n);
    for (let i = 0; i < draws; i++) {
      const rank = zipf.sample();
      hits[rank] = (hits[rank] ?? 0) + 1;
    }
    let expectedTop10 = 0;
    let observedTop10 = 0;
    for (let rank = 0; rank < 10; rank++) {
      expectedTop10 += zipf.probability(rank);
      observedTop10 += hits[rank] as number;
    }
    // 10 of 10,000 leads take almost a third of the traffic: a few hot leads, a long tail.
    expect(expectedTop10).toBeGreaterThan(0.29);
    expect(observedTop10 / draws).toBeCloseTo(expectedTop10, 2);
    expect(hits[0] as number).toBeGreaterThan((hits[1] as number) * 1.8);
    expect(hits[1] as number).toBeGreaterThan(hits[9] as number);
    const tailLeadsHit = Array.from(hits.subarray(1000)).filter((h) => h > 0).length;
    expect(tailLeadsHit).toBeGreaterThan(5000);
  });

  it("never draws outside [0, n)", () => {
    const zipf = createZipf(3, 2, createRandom(3));
    for (let i = 0; i < 10_000; i++) expect(zipf.sample()).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 10_000; i++) expect(zipf.sample()).toBeLessThan(3);
  });
});

describe("the realistic mix", () => {
  const events = draw(100_000);
  const fraction = (kind: EventKind) => events.filter((e) => e.kind === kind).length / events.length;

  it("resends about 5% of events unchanged, with the id and payload of an earlier one", () => {
    expect(fraction("duplicate")).toBeGreaterThan(0.045);
    expect(fraction("duplicate")).toBeLessThan(0.055);
    const seen = new Map<string, PlannedEvent>();
    const wrong: string[] = [];
    for (const planned of events) {
      const earlier = seen.get(planned.event.event_id);
      if (planned.kind === "duplicate" ? earlier?.event !== planned.event : earlier !== undefined) {
        wrong.push(planned.event.event_id);
      }
      if (!earlier) seen.set(planned.event.event_id, planned);
    }
    expect(wrong).toEqual([]);
  });

  it("stamps about 2% of events minutes in the past", () => {
    expect(fraction("late")).toBeGreaterThan(0.017);
    expect(fraction("late")).toBeLessThan(0.023);
    events.forEach((planned, i) => {
      if (planned.kind !== "late") return;
      const ageMinutes = (NOW + i - planned.event.timestamp) / 60_000;
      expect(ageMinutes).toBeGreaterThanOrEqual(2);
      expect(ageMinutes).toBeLessThanOrEqual(30);
    });
  });

  it("makes about 1% of events that the edge must refuse, and only those", () => {
    expect(fraction("invalid")).toBeGreaterThan(0.008);
    expect(fraction("invalid")).toBeLessThan(0.012);
    for (const [i, planned] of events.slice(0, 20_000).entries()) {
      const result = normalizeEvent(planned.event, NOW + i, () => "minted");
      expect(result.ok).toBe(planned.kind !== "invalid");
    }
  });

  it("uses ids and types the contract allows, inside the run's id range", () => {
    const range = runIdRange("ltrun");
    for (const { event } of events.slice(0, 5000)) {
      expect(event.event_id).toMatch(ID_PATTERN);
      expect(event.lead_id).toMatch(ID_PATTERN);
      expect(event.event_type).toMatch(EVENT_TYPE_PATTERN);
      for (const id of [event.event_id, event.lead_id]) {
        expect(id >= range.gte && id < range.lt).toBe(true);
      }
    }
    expect(leadIdFor("ltrun", 0) >= range.gte).toBe(true);
    expect("ltrun0.lead-1" < range.gte || "ltrun0.lead-1" >= range.lt).toBe(true);
  });

  it("replays the same events from the same seed", () => {
    expect(draw(500, 11)).toEqual(draw(500, 11));
    expect(draw(500, 11)).not.toEqual(draw(500, 12));
  });
});

describe("a run id", () => {
  it("is a valid id prefix", () => {
    expect(`${createRunId(NOW, createRandom(1))}.lead-0`).toMatch(ID_PATTERN);
  });
});
