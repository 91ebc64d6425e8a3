import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns } from "../../test-support/property.ts";
import { foldScores, type HistoryEntry, type ScorableEvent, sortKey } from "../src/index.ts";

const CAP = 1000;

function event(id: string, timestamp: number, points: number, rule: string | null = "r"): ScorableEvent {
  return {
    event_id: id,
    lead_id: "lead-1",
    event_type: rule ?? "unknown",
    timestamp,
    received_at: timestamp,
    points,
    rule_id: rule,
  };
}

const scores = (history: HistoryEntry[]) => history.map((entry) => entry.score);
const deltas = (history: HistoryEntry[]) => history.map((entry) => entry.delta);

describe("the scoring fold", () => {
  describe("when two +600 events reach the cap and a +100 event arrives late between them", () => {
    const t1 = event("a", 1_000, 600);
    const t3 = event("c", 3_000, 600);
    const t2 = event("b", 2_000, 100);

    it("caps the first two at 1000", () => {
      const { history, score } = foldScores([t1, t3], CAP);
      expect(scores(history)).toEqual([600, 1000]);
      expect(deltas(history)).toEqual([600, 400]);
      expect(score).toBe(1000);
    });

    it("slots the late event in and recomputes the entry after it", () => {
      const { history, score } = foldScores([t1, t3, t2], CAP);
      expect(history.map((entry) => entry.event_id)).toEqual(["a", "b", "c"]);
      expect(scores(history)).toEqual([600, 700, 1000]);
      expect(deltas(history)).toEqual([600, 100, 300]);
      expect(score).toBe(1000);
    });
  });

  describe("when eleven purchases are followed by a -50 event at the latest time", () => {
    const purchases = Array.from({ length: 11 }, (_, i) => event(`p${i}`, 1_000 + i, 100, "purchase"));
    const penalty = event("z", 5_000, -50, "unsubscribe");

    it("ends at 950 whatever order they arrive in", () => {
      fc.assert(
        fc.property(fc.shuffledSubarray([...purchases, penalty], { minLength: 12, maxLength: 12 }), (arrival) => {
          const { history, score } = foldScores(arrival, CAP);
          expect(score).toBe(950);
          expect(history.at(-1)?.delta).toBe(-50);
        }),
      );
    });
  });

  describe("when an event would leave [0, cap]", () => {
    it("floors at 0 and says so", () => {
      const { history } = foldScores([event("a", 1, 20), event("b", 2, -50)], CAP);
      expect(deltas(history)).toEqual([20, -20]);
      expect(history[1]?.reason).toBe("r -50 (floored at 0)");
    });

    it("caps at the configured ceiling and says so", () => {
      const { history, score } = foldScores([event("a", 1, 80), event("b", 2, 50)], 100);
      expect(score).toBe(100);
      expect(history[1]?.reason).toBe("r +50 (capped at 100)");
    });
  });

  describe("when an event has no active rule", () => {
    it("records it with 0 points and names the reason", () => {
      const { history, score } = foldScores([event("a", 1, 0, null)], CAP);
      expect(score).toBe(0);
      expect(history[0]).toMatchObject({ delta: 0, rule_id: null, reason: "no active rule for unknown" });
    });
  });

  describe("when the same event id comes twice with different payloads", () => {
    it("keeps the first copy only", () => {
      const { history, score } = foldScores([event("a", 1, 10), event("a", 2, 500)], CAP);
      expect(history).toHaveLength(1);
      expect(score).toBe(10);
    });
  });

  it("orders equal timestamps by event id and gives each entry its sort key", () => {
    const { history } = foldScores([event("b", 5, 1), event("a", 5, 1)], CAP);
    expect(history.map((entry) => entry.event_id)).toEqual(["a", "b"]);
    expect(history[0]?.sort_key).toBe(sortKey(5, "a"));
    expect(sortKey(5, "a") < sortKey(5, "a0")).toBe(true);
    expect(sortKey(9, "z") < sortKey(10, "a")).toBe(true);
  });

  it("numbers the entries and tracks when the score last changed", () => {
    const { history, count, reachedAt } = foldScores(
      [event("a", 10, 600), event("b", 20, 600), event("c", 30, 5)],
      CAP,
    );
    expect(history.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    // The third event is capped away, so the score last changed at the second.
    expect(history.map((entry) => entry.score_reached_at)).toEqual([10, 20, 20]);
    expect({ count, reachedAt }).toEqual({ count: 3, reachedAt: 20 });
  });

  it("copies only the event's own fields into its entry", () => {
    const withExtra = { ...event("a", 1, 5), metadata: { secret: 1 } } as ScorableEvent;
    expect(foldScores([withExtra], CAP).history[0]).not.toHaveProperty("metadata");
  });
});

// Arbitrary events of a few leads-worth of shapes: small timestamp range so ties happen, points across the whole
// allowed range (so both bounds are hit) and some events without a rule.
const eventsArb = fc
  .uniqueArray(
    fc.record({
      event_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,6}$/),
      timestamp: fc.integer({ min: 0, max: 40 }),
      points: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(5, 10, 20, 50, 100, -50)),
      ruled: fc.boolean(),
    }),
    { selector: (e) => e.event_id, maxLength: 40 },
  )
  .map((items) =>
    items.map((item) => event(item.event_id, item.timestamp, item.ruled ? item.points : 0, item.ruled ? "r" : null)),
  );

const capArb = fc.integer({ min: 1, max: 1000 });

describe("the scoring fold, for any set of events", () => {
  // The fold alone: the worker's incremental path (planner, refold, deep lane) is held to it by
  // worker/test/incremental.test.ts, against real Redis and MongoDB.
  it("gives the same history whatever the arrival order, counting the first copy of a repeated id", () => {
    fc.assert(
      fc.property(
        eventsArb,
        capArb,
        fc.array(fc.record({ of: fc.nat(), otherPayload: fc.boolean() }), { maxLength: 20 }),
        fc.infiniteStream(fc.nat()),
        (events, cap, repeats, shuffle) => {
          // Repeats of an id, byte for byte or with another payload (time, points, rule): later copies never count.
          const copies = repeats.flatMap(({ of, otherPayload }) => {
            const original = events[of % (events.length || 1)];
            if (!original) return [];
            return [
              otherPayload ? { ...original, timestamp: original.timestamp + 3, points: 999, rule_id: "x" } : original,
            ];
          });
          // Fisher-Yates with the generated stream, so failures shrink and replay.
          const order = shuffle[Symbol.iterator]();
          const arrival = [...events];
          for (let i = arrival.length - 1; i > 0; i--) {
            const j = (order.next().value as number) % (i + 1);
            const [a, b] = [arrival[i] as ScorableEvent, arrival[j] as ScorableEvent];
            arrival[i] = b;
            arrival[j] = a;
          }
          const expected = foldScores(events, cap);
          expect(foldScores([...arrival, ...copies], cap)).toEqual(expected);
          // A copy that arrives first is the one counted, whatever its payload.
          const first = copies[0];
          if (first) {
            const firstCounted = foldScores([first, ...arrival], cap);
            const counted = firstCounted.history.find((entry) => entry.event_id === first.event_id);
            expect(counted).toMatchObject({ timestamp: first.timestamp, points: first.points, rule_id: first.rule_id });
          }
        },
      ),
      propertyRuns(300),
    );
  });

  it("keeps every score within [0, cap]", () => {
    fc.assert(
      fc.property(eventsArb, capArb, (events, cap) => {
        for (const entry of foldScores(events, cap).history) {
          expect(entry.score).toBeGreaterThanOrEqual(0);
          expect(entry.score).toBeLessThanOrEqual(cap);
        }
      }),
    );
  });

  it("has deltas that sum to the score and a last entry that carries it", () => {
    fc.assert(
      fc.property(eventsArb, capArb, (events, cap) => {
        const { history, score, count } = foldScores(events, cap);
        expect(history.reduce((sum, entry) => sum + entry.delta, 0)).toBe(score);
        expect(history.at(-1)?.score ?? 0).toBe(score);
        expect(count).toBe(history.length);
        expect(history.map((entry) => entry.seq)).toEqual(history.map((_, i) => i + 1));
      }),
    );
  });

  it("folds a prefix, then the rest from the prefix's result, exactly as it folds everything", () => {
    fc.assert(
      fc.property(eventsArb, capArb, fc.nat(), (events, cap, cut) => {
        const all = foldScores(events, cap);
        const byId = new Map(events.map((e) => [e.event_id, e]));
        const sorted = all.history.map((entry) => byId.get(entry.event_id) as ScorableEvent);
        const at = cut % (sorted.length + 1);
        const head = foldScores(sorted.slice(0, at), cap);
        const tail = foldScores(sorted.slice(at), cap, head);
        expect([...head.history, ...tail.history]).toEqual(all.history);
        expect({ score: tail.score, count: tail.count, reachedAt: tail.reachedAt }).toEqual({
          score: all.score,
          count: all.count,
          reachedAt: all.reachedAt,
        });
      }),
    );
  });
});
