import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns, shuffled } from "../../test-support/property.ts";
import { scoredEvent } from "../../test-support/rule-sets.ts";
import {
  atOrAbove,
  type Candidate,
  crossingInstant,
  DECAY_EPOCH_MS,
  decayBound,
  decayedScore,
  decayKey,
  type FoldStateDecay,
  foldScoresDecay,
  foldScoresV2,
  type HistoryEntryDecay,
  type ScorableEventV2,
  scoreAt,
  shownScore,
  stageAt,
  stageFor,
  ZERO_KEY,
} from "../src/index.ts";

const CAP = 1000;
const T0 = Date.parse("2026-12-06T12:00:00Z");
const SECOND = 1000;

const event = scoredEvent;
const plain = (id: string, timestamp: number, points: number) => event(id, timestamp, [{ rule_id: "r", points }]);
const stateOf = ({ history: _, ...state }: ReturnType<typeof foldScoresDecay>): FoldStateDecay => state;

describe("the issue's example: half-life 5 s, a lead scored 320", () => {
  const folded = foldScoresDecay([plain("e1", T0, 320)], CAP, { halfLifeSeconds: 5, until: T0 + SECOND });

  it("is warm from the first millisecond after 5 · log2(320/300) s, with a decay entry there and no event", () => {
    const crossing = 5 * Math.log2(320 / 300) * SECOND; // 465.5 ms
    expect(folded.history.map((entry) => [entry.cause, entry.event_id, entry.timestamp - T0])).toEqual([
      ["event", "e1", 0],
      ["decay", "decay:warm", Math.ceil(crossing)],
    ]);
    const decay = folded.history[1] as HistoryEntryDecay;
    expect(decay).toMatchObject({ stage_from: "hot", stage_to: "warm", delta: 0, points: 0, event_type: "decay" });
    expect(decay.reason).toBe("decayed below hot (300)");
    expect(decay.score).toBeLessThan(300);
    expect(decayedScore(320, T0, decay.timestamp - 1, 5)).toBeGreaterThanOrEqual(300);
    expect(decay.decay).toBe(decay.score - 320);
  });

  it("keeps the score set by the event and its instant as the state, and derives nothing past until", () => {
    expect(folded.score).toBe(320);
    expect(folded.at).toBe(T0);
    expect(folded.entryScore).toBe(folded.history[1]?.score);
    // 5 · log2(320/100) = 8.39 s: cold after 8.4 s, so up to 8 s there is one crossing, up to 9 s two.
    expect(
      foldScoresDecay([plain("e1", T0, 320)], CAP, { halfLifeSeconds: 5, until: T0 + 8_000 }).history,
    ).toHaveLength(2);
    expect(
      foldScoresDecay([plain("e1", T0, 320)], CAP, { halfLifeSeconds: 5, until: T0 + 9_000 }).history.map(
        (entry) => entry.stage_to ?? entry.cause,
      ),
    ).toEqual(["event", "warm", "cold"]);
  });
});

describe("when an event arrives late, before a crossing already derived", () => {
  it("drops the crossing it prevents and moves the one after, as if known all along", () => {
    const options = { halfLifeSeconds: 5, until: T0 + 2 * SECOND };
    const before = foldScoresDecay([plain("e1", T0, 320)], CAP, options);
    expect(before.history.map((entry) => [entry.event_id, entry.timestamp - T0])).toEqual([
      ["e1", 0],
      ["decay:warm", 466],
    ]);
    const late = plain("e0", T0 + 200, 50);
    const after = foldScoresDecay([plain("e1", T0, 320), late], CAP, options);
    // 320 · 2^(−0.2/5) + 50 = 361.3 at 200 ms: warm 5 · log2(361.3/300) s = 1.34 s later.
    expect(after.history.map((entry) => [entry.event_id, entry.timestamp - T0])).toEqual([
      ["e1", 0],
      ["e0", 200],
      ["decay:warm", 200 + Math.ceil(5000 * Math.log2((after.history[1]?.score as number) / 300))],
    ]);
    expect(after.history[1]?.score).toBeCloseTo(320 * 2 ** -0.04 + 50, 9);
  });
});

describe("when a stored state is folded forward with no event, as time passes", () => {
  it("derives each crossing once: up to 1 s, then up to 9 s, as one fold up to 9 s", () => {
    const options = { halfLifeSeconds: 5, leadId: "lead-1" };
    const first = foldScoresDecay([plain("e1", T0, 320)], CAP, { ...options, until: T0 + SECOND });
    const second = foldScoresDecay([], CAP, { ...options, until: T0 + 9 * SECOND }, stateOf(first));
    const third = foldScoresDecay([], CAP, { ...options, until: T0 + 9 * SECOND }, stateOf(second));
    const once = foldScoresDecay([plain("e1", T0, 320)], CAP, { ...options, until: T0 + 9 * SECOND });
    expect(second.history.map((entry) => entry.stage_to)).toEqual(["cold"]);
    expect(third.history).toEqual([]);
    expect([...first.history, ...second.history]).toEqual(once.history);
    expect(stateOf(third)).toEqual(stateOf(once));
  });
});

describe("the fold with decay on small examples", () => {
  it("decays before the clamps: a capped lead, half decayed, takes points up to the cap again", () => {
    const { history, score } = foldScoresDecay([plain("a", T0, 1000), plain("b", T0 + 10 * SECOND, 600)], CAP, {
      halfLifeSeconds: 10,
    });
    expect(history.map((entry) => [entry.cause, entry.score])).toEqual([
      ["event", 1000],
      ["decay", expect.any(Number)], // qualified → hot at 10 · log2(1000/600) s
      ["event", 1000],
    ]);
    expect(history[2]?.decay).toBe(500 - (history[1]?.score as number));
    expect(history[2]?.delta).toBe(500);
    expect(history[2]?.rules).toEqual([
      { rule_id: "r", group: null, asked: 600, given: 500, cuts: ["capped at 1000"] },
    ]);
    expect(score).toBe(1000);
  });

  it("floors a decayed score at 0 with a negative rule, and a zero score never decays", () => {
    const { history } = foldScoresDecay(
      [plain("a", T0, 80), plain("b", T0 + 5 * SECOND, -50), plain("c", T0 + 20 * SECOND, 0)],
      CAP,
      { halfLifeSeconds: 5 },
    );
    expect(history.map((entry) => entry.score)).toEqual([80, 0, 0]);
    expect(history[1]?.rules[0]?.cuts).toEqual(["floored at 0"]);
    expect(history[1]?.delta).toBe(-40);
    expect(history[2]?.decay).toBe(0);
  });

  it("gives no decay between events of the same millisecond", () => {
    const { history } = foldScoresDecay([plain("a", T0, 400), plain("b", T0, 10)], CAP, { halfLifeSeconds: 1 });
    expect(history.map((entry) => entry.score)).toEqual([400, 410]);
  });

  it("writes one entry when two thresholds are left in the same millisecond", () => {
    // 100 and 101 are 1.4 ms apart at H = 1 s: a 0.1 s step from 700 crosses both hot... only with close thresholds.
    const thresholds = [100, 101, 600] as const;
    const until = T0 + 60 * SECOND;
    const { history } = foldScoresDecay([plain("a", T0, 700)], CAP, { halfLifeSeconds: 0.0001, thresholds, until });
    expect(history.map((entry) => entry.stage_to ?? entry.cause)).toEqual(["event", "cold"]);
    expect(history[1]?.reason).toBe("decayed below qualified (600)");
  });

  it("is foldScoresV2 exactly, entry by entry, without a half-life", () => {
    const events = [plain("a", T0, 600), plain("c", T0 + 3, 600), plain("b", T0 + 2, 100)];
    const folded = foldScoresDecay(events, CAP, { halfLifeSeconds: null, until: T0 + 1e9 });
    const v2 = foldScoresV2(events, CAP);
    expect(folded.history).toEqual(v2.history.map((entry) => ({ ...entry, cause: "event", decay: 0 })));
    expect(folded.score).toBe(v2.score);
    expect(folded.history.map((entry) => entry.score)).toEqual([600, 700, 1000]);
  });
});

describe("keys and moving bounds", () => {
  it("keys a zero score below every real key, and every lead meets a threshold of 0", () => {
    expect(decayKey(0, T0, 5)).toBe(ZERO_KEY);
    expect(decayKey(Number.MIN_VALUE, DECAY_EPOCH_MS - 1e12, 1)).toBeGreaterThan(ZERO_KEY);
    expect(atOrAbove(ZERO_KEY, 0, T0, 5)).toBe(true);
    expect(decayBound(0, T0, 5)).toBe(ZERO_KEY);
  });

  it("orders leads by key as by their decayed scores at any instant", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ score: fc.double({ min: 0.001, max: CAP, noNaN: true }), at: fc.integer({ min: 0, max: 1e9 }) }),
          {
            minLength: 2,
            maxLength: 10,
          },
        ),
        fc.integer({ min: 0, max: 2e9 }),
        fc.integer({ min: 1, max: 1e7 }),
        (leads, later, halfLife) => {
          const t = T0 + later;
          const scored = leads.map((lead) => ({
            key: decayKey(lead.score, T0 + lead.at, halfLife),
            now: decayedScore(lead.score, T0 + lead.at, t, halfLife),
          }));
          scored.sort((a, b) => b.key - a.key);
          for (let i = 1; i < scored.length; i++) {
            const [above, below] = [scored[i - 1]?.now as number, scored[i]?.now as number];
            expect(above).toBeGreaterThanOrEqual(below * (1 - 1e-9));
          }
        },
      ),
      propertyRuns(300),
    );
  });

  it("puts a lead at or above a threshold by its key exactly when its decayed score is, but for rounding", () => {
    let compared = 0;
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: CAP, noNaN: true }),
        fc.integer({ min: 0, max: 1e8 }),
        fc.constantFrom(1, 5, 3600, 30 * 86_400),
        fc.constantFrom(100, 300, 600),
        (score, elapsed, halfLife, threshold) => {
          const key = decayKey(score, T0, halfLife);
          const now = decayedScore(score, T0, T0 + elapsed, halfLife);
          if (Math.abs(now - threshold) < threshold * 1e-9) return;
          compared += 1;
          expect(atOrAbove(key, threshold, T0 + elapsed, halfLife)).toBe(now >= threshold);
          expect(stageAt(key, T0 + elapsed, halfLife)).toBe(stageFor(now));
        },
      ),
      propertyRuns(500),
    );
    expect(compared).toBeGreaterThan(0);
  });

  it("finds the first millisecond a lead is below a threshold, as the bound sees it", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 100.5, max: CAP, noNaN: true }),
        fc.constantFrom(1, 5, 3600, 30 * 86_400),
        fc.constantFrom(100, 300, 600),
        (score, halfLife, threshold) => {
          if (score < threshold) return;
          const key = decayKey(score, T0, halfLife);
          const instant = crossingInstant(key, threshold, T0, halfLife);
          expect(instant).toBeGreaterThan(T0);
          expect(atOrAbove(key, threshold, instant, halfLife)).toBe(false);
          expect(instant === T0 + 1 || atOrAbove(key, threshold, instant - 1, halfLife)).toBe(true);
          const exact = T0 + halfLife * 1000 * Math.log2(score / threshold);
          expect(Math.abs(instant - exact)).toBeLessThanOrEqual(1.001);
        },
      ),
      propertyRuns(500),
    );
  });

  it("shows a score rounded down, so the shown number and the stage agree", () => {
    expect(shownScore(299.6)).toBe(299);
    expect(stageFor(299.6)).toBe("warm");
    expect(shownScore(300)).toBe(300);
  });

  it("gives the score at an instant from the last event's score and time", () => {
    expect(scoreAt(320, T0, T0 + 5 * SECOND, 5)).toBe(160);
    expect(scoreAt(320, T0, T0 + 5 * SECOND, null)).toBe(320);
  });
});

const CANDIDATES: Candidate[] = [
  { rule_id: "big", points: 250 },
  { rule_id: "limited", points: 40, limit: { max: 2, per: "day" } },
  { rule_id: "grouped", points: 60, group: { id: "g", max: 150 } },
  { rule_id: "minus", points: -120 },
  { rule_id: "small", points: 15 },
];
const eventsArb = fc
  .uniqueArray(
    fc.record({
      event_id: fc.stringMatching(/^[a-z0-9]{1,4}$/),
      // Seconds over a few half-lives, sometimes the same second (ties, ordered by id).
      at: fc.oneof(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 3 })),
      rules: fc.subarray(CANDIDATES, { minLength: 1 }),
    }),
    { selector: (item) => item.event_id, maxLength: 40 },
  )
  .map((items) => items.map((item) => event(item.event_id, T0 + item.at * 10, item.rules)));
const halfLifeArb = fc.constantFrom(0.5, 5, 60, 600);
const capArb = fc.constantFrom(400, CAP);
const lastTime = (events: ScorableEventV2[]) => Math.max(T0, ...events.map((e) => e.timestamp));

/** What the properties reached, so a run that never crossed or never clamped shows it. */
const reached = { crossings: 0, capped: 0, floored: 0, limit: 0 };

describe("the fold with decay, for any set of events", () => {
  it("gives the history of the sorted events whatever the arrival order, counting the first copy of an id", () => {
    fc.assert(
      fc.property(eventsArb, capArb, halfLifeArb, fc.infiniteStream(fc.nat()), (events, cap, halfLife, stream) => {
        const options = { halfLifeSeconds: halfLife, until: lastTime(events) + 3_600_000 };
        const expected = foldScoresDecay(events, cap, options);
        const repeat = events[0]
          ? [{ ...events[0], timestamp: events[0].timestamp + 7, candidates: [CANDIDATES[0]] }]
          : [];
        expect(foldScoresDecay([...shuffled(events, stream), ...(repeat as ScorableEventV2[])], cap, options)).toEqual(
          expected,
        );
        for (const entry of expected.history) {
          if (entry.cause === "decay") reached.crossings += 1;
          for (const cut of entry.rules.flatMap((rule) => rule.cuts)) {
            const kind = cut.split(" ")[0] as string;
            if (kind in reached) reached[kind as keyof typeof reached] += 1;
          }
        }
      }),
      propertyRuns(200),
    );
    expect(Object.values(reached).every((count) => count > 0)).toBe(true);
  });

  it("folds any split into consecutive slices, each up to the next one's first event, exactly as all at once", () => {
    fc.assert(
      fc.property(
        eventsArb,
        capArb,
        halfLifeArb,
        fc.array(fc.nat(), { maxLength: 4 }),
        (events, cap, halfLife, cuts) => {
          const until = lastTime(events) + 3_600_000;
          const all = foldScoresDecay(events, cap, { halfLifeSeconds: halfLife, until });
          const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp || (a.event_id < b.event_id ? -1 : 1));
          const points = [...new Set(cuts.map((cut) => cut % (sorted.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...points, sorted.length];
          let state: Partial<FoldStateDecay> = {};
          const history: HistoryEntryDecay[] = [];
          for (let i = 1; i < bounds.length; i++) {
            const slice = sorted.slice(bounds[i - 1], bounds[i]);
            const next = sorted[bounds[i] as number];
            const sliceUntil = next === undefined ? until : next.timestamp - 1;
            const folded = foldScoresDecay(
              slice,
              cap,
              { halfLifeSeconds: halfLife, until: sliceUntil, leadId: "lead-1" },
              state,
            );
            history.push(...folded.history);
            state = stateOf(folded);
          }
          expect(history).toEqual(all.history);
          expect(state).toEqual(stateOf(all));
        },
      ),
      propertyRuns(200),
    );
  });

  it("equals the direct computation s = clamp(s · 2^(−Δt/H) + points) rule by rule, with every score in [0, cap]", () => {
    fc.assert(
      fc.property(eventsArb, capArb, halfLifeArb, (events, cap, halfLife) => {
        const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp || (a.event_id < b.event_id ? -1 : 1));
        const plainOnly = sorted.map((e) => ({ ...e, candidates: e.candidates.filter((c) => !c.limit && !c.group) }));
        const { history, score } = foldScoresDecay(plainOnly, cap, { halfLifeSeconds: halfLife });
        let direct = 0;
        let at: number | null = null;
        const scores: number[] = [];
        for (const e of plainOnly) {
          if (at !== null) direct *= 0.5 ** ((e.timestamp - at) / 1000 / halfLife);
          for (const candidate of e.candidates) direct = Math.min(cap, Math.max(0, direct + candidate.points));
          at = e.timestamp;
          scores.push(direct);
        }
        const eventScores = history.filter((entry) => entry.cause === "event").map((entry) => entry.score);
        expect(eventScores).toHaveLength(scores.length);
        eventScores.forEach((value, i) => {
          expect(value).toBeCloseTo(scores[i] as number, 9);
        });
        expect(score).toBeCloseTo(direct, 9);
      }),
      propertyRuns(200),
    );
  });

  it("keeps each entry's score the one before plus its decay plus its delta, decay entries exactly at their crossings", () => {
    fc.assert(
      fc.property(eventsArb, capArb, halfLifeArb, (events, cap, halfLife) => {
        const until = lastTime(events) + 3_600_000;
        const { history } = foldScoresDecay(events, cap, { halfLifeSeconds: halfLife, until });
        let previous = 0;
        let set = { score: 0, at: T0 };
        for (const entry of history) {
          expect(entry.score).toBeGreaterThanOrEqual(0);
          expect(entry.score).toBeLessThanOrEqual(cap);
          expect(entry.decay).toBeLessThanOrEqual(0);
          expect(entry.score).toBeCloseTo(previous + entry.decay + entry.delta, 9);
          if (entry.cause === "event") set = { score: entry.score, at: entry.timestamp };
          else {
            // Below at its instant, and not below a millisecond before, by the same key the indexes hold.
            const key = decayKey(set.score, set.at, halfLife);
            expect(entry.score).toBe(decayedScore(set.score, set.at, entry.timestamp, halfLife));
            expect(stageAt(key, entry.timestamp, halfLife)).toBe(entry.stage_to);
            expect(stageAt(key, entry.timestamp - 1, halfLife)).toBe(entry.stage_from);
          }
          previous = entry.score;
        }
      }),
      propertyRuns(200),
    );
  });

  it("gives a history up to an instant that a later event only extends, and a late event the history known all along", () => {
    fc.assert(
      fc.property(eventsArb, capArb, halfLifeArb, fc.nat(), (events, cap, halfLife, pick) => {
        if (events.length < 2) return;
        const sorted = [...events].sort((a, b) => a.timestamp - b.timestamp || (a.event_id < b.event_id ? -1 : 1));
        const now = lastTime(events) + 600_000;
        const known = foldScoresDecay(events, cap, { halfLifeSeconds: halfLife, until: now });
        // A later event: what was derived up to `now` stays, entries after it follow.
        const later = plain("zz-later", now + 1, 5);
        const extended = foldScoresDecay([...events, later], cap, {
          halfLifeSeconds: halfLife,
          until: now + 3_600_000,
        });
        expect(extended.history.slice(0, known.history.length)).toEqual(known.history);
        // A late event: folded first without it, then with it, the history is the one known all along.
        const late = sorted[1 + (pick % (sorted.length - 1))] as ScorableEventV2;
        const without = foldScoresDecay(
          events.filter((e) => e !== late),
          cap,
          { halfLifeSeconds: halfLife, until: now },
        );
        expect(without.history.some((entry) => entry.event_id === late.event_id)).toBe(false);
        expect(
          foldScoresDecay([...events.filter((e) => e !== late), late], cap, { halfLifeSeconds: halfLife, until: now }),
        ).toEqual(known);
      }),
      propertyRuns(200),
    );
  });
});
