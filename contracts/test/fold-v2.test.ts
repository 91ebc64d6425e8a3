import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns, shuffled } from "../../test-support/property.ts";
import { ISSUE_EXAMPLE_RULES, scoredEvent } from "../../test-support/rule-sets.ts";
import {
  breakdownOf,
  bucketOf,
  type Candidate,
  compileRuleSet,
  type FoldStateV2,
  foldScores,
  foldScoresV2,
  fromV1Event,
  type HistoryEntryV2,
  type LimitPeriod,
  type ScorableEvent,
  type ScorableEventV2,
} from "../src/index.ts";

const CAP = 1000;
const T0 = Date.parse("2026-03-02T00:00:00Z"); // a Monday
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const event = scoredEvent;

const v1 = (id: string, timestamp: number, points: number): ScorableEventV2 =>
  event(id, timestamp, [{ rule_id: "r", points }], "r");
const pick = (history: HistoryEntryV2[], key: "score" | "delta" | "reason" | "event_id") =>
  history.map((entry) => entry[key]);
/** Every arrival order of a few events: permutations, shuffled by fast-check. */
const anyOrder = <T>(items: T[]) => fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length });

describe("the v2 fold on the design's examples", () => {
  it("slots a late event between two capped ones and recomputes after it", () => {
    const { history, score } = foldScoresV2([v1("a", 1_000, 600), v1("c", 3_000, 600), v1("b", 2_000, 100)], CAP);
    expect(pick(history, "score")).toEqual([600, 700, 1000]);
    expect(pick(history, "delta")).toEqual([600, 100, 300]);
    expect(history[2]?.rules).toEqual([
      { rule_id: "r", group: null, asked: 600, given: 300, cuts: ["capped at 1000"] },
    ]);
    expect(score).toBe(1000);
  });

  it("ends eleven purchases and a later -50 at 950 in any arrival order", () => {
    const events = [...Array.from({ length: 11 }, (_, i) => v1(`p${i}`, 1_000 + i, 100)), v1("z", 5_000, -50)];
    fc.assert(
      fc.property(anyOrder(events), (arrival) => {
        expect(foldScoresV2(arrival, CAP).score).toBe(950);
      }),
    );
  });
});

// "page_view where metadata.path starts with /pricing = 20, at most 3 a day; email_open = 5 at most once per email;
// group email max 60."
const rules = compileRuleSet(ISSUE_EXAMPLE_RULES);
const scored = (id: string, timestamp: number, type: string, metadata: Record<string, unknown>) =>
  event(id, timestamp, rules.match({ event_type: type, metadata }), type);

describe("the example: pricing 20 at most 3 a day, one open per email, email group at most 60", () => {
  const pricing = (id: string, at: number) => scored(id, at, "page_view", { path: "/pricing" });
  const open = (id: string, at: number, email: string) => scored(id, at, "email_open", { email_id: email });

  it("gives the first three pricing views of a UTC day and none after, then again the next day", () => {
    const views = [1, 2, 3, 4, 23].map((h) => pricing(`d1-${h}`, T0 + h * HOUR));
    const nextDay = pricing("d2", T0 + DAY);
    const { history, score } = foldScoresV2([...views, nextDay], CAP);
    expect(pick(history, "delta")).toEqual([20, 20, 20, 0, 0, 20]);
    expect(history[3]?.reason).toBe("page_view +20 (limit 3 per day reached)");
    expect(score).toBe(80);
  });

  it("gives a late view that sorts before awarded ones the award, and takes it from the last of them", () => {
    const views = [2, 3, 4].map((h) => pricing(`v${h}`, T0 + h * HOUR));
    const late = pricing("late", T0 + HOUR);
    fc.assert(
      fc.property(anyOrder([...views, late]), (arrival) => {
        const { history } = foldScoresV2(arrival, CAP);
        expect(pick(history, "event_id")).toEqual(["late", "v2", "v3", "v4"]);
        expect(pick(history, "delta")).toEqual([20, 20, 20, 0]);
      }),
    );
  });

  it("scores each email's first open only, and stops the email group at 60", () => {
    const opens = [
      open("o1", T0 + 1, "n1"),
      open("o2", T0 + 2, "n1"),
      ...Array.from({ length: 13 }, (_, i) => open(`p${String(i).padStart(2, "0")}`, T0 + 10 + i, `m${i}`)),
    ];
    const { history, score, groups } = foldScoresV2(opens, CAP);
    expect(history[1]?.reason).toBe("email_open +5 (limit 1 per lifetime for this metadata.email_id reached)");
    expect(pick(history, "delta")).toEqual([5, 0, ...Array(11).fill(5), 0, 0]);
    expect(history[13]?.reason).toBe('email_open +5 (group "email" at its max 60)');
    expect({ score, groups }).toEqual({ score: 60, groups: { email: 60 } });
  });

  it("breaks the score down by group and by rule", () => {
    const events = [
      pricing("a", T0 + HOUR),
      pricing("b", T0 + 2 * HOUR),
      scored("blog", T0 + 3 * HOUR, "page_view", { path: "/blog" }),
      open("c", T0 + 4 * HOUR, "n1"),
      open("d", T0 + 5 * HOUR, "n1"),
    ];
    expect(breakdownOf(foldScoresV2(events, CAP).history)).toEqual({
      score: 45,
      groups: [{ group: "email", points: 5, events: 2 }],
      rules: [
        { rule_id: "pricing", group: null, points: 40, events: 2 },
        { rule_id: "open", group: "email", points: 5, events: 2 },
      ],
      unmatched: 1,
    });
  });
});

describe("the order of clamping: rule limit, then group max, then the score's [0, cap]", () => {
  const grouped = (points: number, max = 50): Candidate => ({ rule_id: "g", points, group: { id: "web", max } });

  it("cuts by the limit before the group sees the points (a cut event takes no group room)", () => {
    const limited: Candidate = { ...grouped(30), limit: { max: 1, per: "lifetime" } };
    const { history, groups } = foldScoresV2([event("a", 1, [limited]), event("b", 2, [limited])], CAP);
    expect(history[1]?.rules[0]).toMatchObject({ given: 0, cuts: ["limit 1 per lifetime reached"] });
    expect(groups).toEqual({ web: 30 });
  });

  it("gives a group what it has left, and lets negative points through and free room", () => {
    const { history, groups } = foldScoresV2(
      [
        event("a", 1, [grouped(30)]),
        event("b", 2, [grouped(30)]),
        event("c", 3, [grouped(-40)]),
        event("d", 4, [grouped(30)]),
      ],
      CAP,
    );
    expect(pick(history, "delta")).toEqual([30, 20, -40, 30]);
    expect(history[1]?.reason).toBe('page_view +30 (group "web" at its max 50)');
    expect(groups).toEqual({ web: 40 });
  });

  it("applies an event's rules one after another in rule-set order, each through the score's clamp", () => {
    const start = { score: 995, groups: { web: 0 } };
    const candidates = [grouped(8), { rule_id: "plain", points: 7 }, { rule_id: "minus", points: -2 }];
    const { history, score, groups } = foldScoresV2([event("a", 1, candidates)], CAP, start);
    expect(history[0]?.rules).toEqual([
      { rule_id: "g", group: "web", asked: 8, given: 5, cuts: ["capped at 1000"] },
      { rule_id: "plain", group: null, asked: 7, given: 0, cuts: ["capped at 1000"] },
      { rule_id: "minus", group: null, asked: -2, given: -2, cuts: [] },
    ]);
    expect(history[0]?.reason).toBe("page_view: g +8 (capped at 1000), plain +7 (capped at 1000), minus -2");
    // The group counts what its rule gave the score.
    expect({ delta: history[0]?.delta, score, groups }).toEqual({ delta: 3, score: 998, groups: { web: 5 } });
  });

  it("so +50 then -30 at 990 ends at 970, not at the cap", () => {
    const candidates = [
      { rule_id: "plus", points: 50 },
      { rule_id: "minus", points: -30 },
    ];
    const { history } = foldScoresV2([event("a", 1, candidates)], CAP, { score: 990 });
    expect(history[0]?.rules.map((rule) => rule.given)).toEqual([10, -30]);
    expect(history[0]?.score).toBe(970);
  });

  it("floors a negative rule at 0, its group getting back what it did not take", () => {
    const candidates = [{ rule_id: "a", points: -10 }, { rule_id: "b", points: 5 }, grouped(-20)];
    const { history, groups } = foldScoresV2([event("a", 1, candidates)], CAP, { score: 15, groups: { web: 30 } });
    expect(history[0]?.rules.map((rule) => rule.given)).toEqual([-10, 5, -10]);
    expect(history[0]?.rules[2]?.cuts).toEqual(["floored at 0"]);
    expect({ delta: history[0]?.delta, groups }).toEqual({ delta: -15, groups: { web: 20 } });
  });

  it("applies all three to one event: limited, then cut by its group, then capped", () => {
    const limited: Candidate = { ...grouped(40, 60), limit: { max: 2, per: "day" } };
    const { history } = foldScoresV2(
      [event("a", T0, [limited]), event("b", T0 + 1, [limited]), event("c", T0 + 2, [limited])],
      50,
    );
    expect(history.map((entry) => entry.rules[0]?.cuts)).toEqual([
      [],
      ['group "web" at its max 60', "capped at 50"],
      ["limit 2 per day reached"],
    ]);
    expect(pick(history, "score")).toEqual([40, 50, 50]);
  });
});

describe("the buckets of a limit", () => {
  const at = (iso: string) => Date.parse(iso);

  it("cuts days at UTC midnight", () => {
    expect(bucketOf("day", at("2026-03-02T23:59:59.999Z"))).toBe(bucketOf("day", at("2026-03-02T00:00:00Z")));
    expect(bucketOf("day", at("2026-03-03T00:00:00Z"))).toBe(bucketOf("day", at("2026-03-02T00:00:00Z")) + 1);
  });

  it("starts weeks on Monday 00:00 UTC, as ISO 8601 does", () => {
    const monday = bucketOf("week", at("2026-03-02T00:00:00Z"));
    expect(bucketOf("week", at("2026-03-01T23:59:59.999Z"))).toBe(monday - 1); // Sunday
    expect(bucketOf("week", at("2026-03-08T23:59:59.999Z"))).toBe(monday); // the next Sunday
    expect(bucketOf("week", at("2026-03-09T00:00:00Z"))).toBe(monday + 1);
    expect(bucketOf("week", at("1970-01-01T00:00:00Z"))).toBe(0); // a Thursday, in the week of Monday 1969-12-29
  });

  it("cuts months at the first of the month, UTC, whatever their length", () => {
    const february = bucketOf("month", at("2028-02-29T23:59:59Z"));
    expect(bucketOf("month", at("2028-02-01T00:00:00Z"))).toBe(february);
    expect(bucketOf("month", at("2028-03-01T00:00:00Z"))).toBe(february + 1);
    expect(bucketOf("month", at("2029-01-01T00:00:00Z"))).toBe(february + 11);
  });

  it("keeps one bucket for a lifetime", () => {
    expect(bucketOf("lifetime", 0)).toBe(bucketOf("lifetime", at("2099-01-01T00:00:00Z")));
  });
});

describe("the fold's state", () => {
  const daily: Candidate = { rule_id: "daily", points: 1, limit: { max: 1, per: "day" } };
  const perEmail = (key: string): Candidate => ({
    rule_id: "open",
    points: 1,
    limit: { max: 1, per: "week", field: "metadata.email_id", key },
  });

  it("keeps only the counters of buckets an event sorted after the last can still reach", () => {
    const { counters } = foldScoresV2(
      [
        event("a", T0, [daily, perEmail("n1")]),
        event("b", T0 + DAY, [daily, perEmail("n2")]),
        event("c", T0 + 7 * DAY, [perEmail("n3")]),
      ],
      CAP,
    );
    // The daily counter and the first week's email counters are past: dropped.
    expect(counters).toEqual(
      new Map([['week open "metadata.email_id" "n3"', { bucket: bucketOf("week", T0) + 1, count: 1 }]]),
    );
  });

  it("gives back the start's counters and groups themselves when its events change none", () => {
    const once: Candidate = {
      rule_id: "once",
      points: 5,
      limit: { max: 1, per: "lifetime" },
      group: { id: "g", max: 9 },
    };
    const first = foldScoresV2([event("a", T0, [once, daily])], CAP);
    // The lifetime limit is reached and the day's counter is the same day's: nothing moves, nothing is copied.
    const again = foldScoresV2([event("b", T0 + HOUR, [once])], CAP, first);
    expect(again.counters).toBe(first.counters);
    expect(again.groups).toBe(first.groups);
    // A counter that moves, or one whose bucket is past, makes new ones; the start's are left as they were.
    const moved = foldScoresV2([event("c", T0 + DAY, [daily])], CAP, first);
    expect(moved.counters).not.toBe(first.counters);
    expect([...moved.counters]).toEqual([
      ["day daily", { bucket: bucketOf("day", T0) + 1, count: 1 }],
      ["lifetime once", { bucket: 0, count: 1 }],
    ]);
    // A count that moves in a bucket that is still open keeps every counter, in order.
    const counted = foldScoresV2([event("c2", T0 + HOUR, [{ ...daily, limit: { max: 5, per: "day" } }])], CAP, first);
    expect([...counted.counters]).toEqual([
      ["day daily", { bucket: bucketOf("day", T0), count: 2 }],
      ["lifetime once", { bucket: 0, count: 1 }],
    ]);
    const past = foldScoresV2([event("d", T0 + DAY, [once])], CAP, first);
    expect(past.counters).toEqual(new Map([["lifetime once", { bucket: 0, count: 1 }]]));
    expect([...first.counters]).toEqual([
      ["day daily", { bucket: bucketOf("day", T0), count: 1 }],
      ["lifetime once", { bucket: 0, count: 1 }],
    ]);
  });

  it("slots the counters a fold adds among the start's in name order", () => {
    const once = (key: string): Candidate => ({
      rule_id: "once",
      points: 1,
      limit: { max: 1, per: "lifetime", field: "metadata.email_id", key },
    });
    const first = foldScoresV2([event("a", T0, [once("n2"), once("n5")])], CAP);
    const next = foldScoresV2([event("b", T0 + HOUR, [once("n6"), once("n4"), once("n1"), once("n3")])], CAP, first);
    const names = [...next.counters.keys()];
    expect(names).toHaveLength(6);
    expect(names).toEqual([...names].sort());
  });

  it("grows lifetime counters with the distinct keys seen", () => {
    const once = (key: string): Candidate => ({
      rule_id: "once",
      points: 1,
      limit: { max: 1, per: "lifetime", field: "metadata.email_id", key },
    });
    const events = Array.from({ length: 50 }, (_, i) => event(`e${i}`, T0 + i * DAY, [once(`n${i % 20}`)]));
    expect(foldScoresV2(events, CAP).counters.size).toBe(20);
  });
});

// Generated events: a fixed set of candidate shapes covering every clamp (limits of each period, keyed and not,
// two groups, negative points, a rule big enough to reach the cap), times over three months so buckets change and
// ties happen, and a cap from tiny to the default.
const CANDIDATES: Candidate[] = [
  { rule_id: "daily", points: 20, limit: { max: 2, per: "day" } },
  { rule_id: "weekly", points: 300, limit: { max: 1, per: "week" }, group: { id: "big", max: 500 } },
  { rule_id: "monthly", points: 100, limit: { max: 3, per: "month" } },
  { rule_id: "grouped", points: 50, group: { id: "email", max: 60 } },
  { rule_id: "minus", points: -40 },
  { rule_id: "minus_grouped", points: -25, group: { id: "email", max: 60 } },
  { rule_id: "plain", points: 5 },
];
const keyedCandidate = (key: string | undefined): Candidate => ({
  rule_id: "per_email",
  points: 10,
  limit: { max: 1, per: "lifetime", field: "metadata.email_id", ...(key === undefined ? {} : { key }) },
  group: { id: "email", max: 60 },
});
const GROUP_MAX: Record<string, number> = { big: 500, email: 60 };

const eventsArb = fc
  .uniqueArray(
    fc.record({
      event_id: fc.stringMatching(/^[a-z0-9]{1,4}$/),
      // Hours over ~90 days, sometimes the same hour (ties, ordered by id).
      hour: fc.oneof(fc.integer({ min: 0, max: 2_200 }), fc.integer({ min: 0, max: 5 })),
      rules: fc.subarray(CANDIDATES),
      key: fc.option(fc.constantFrom("n1", "n2", "n3", undefined), { nil: null }),
    }),
    { selector: (item) => item.event_id, maxLength: 60 },
  )
  .map((items) =>
    items.map((item) =>
      event(
        item.event_id,
        T0 + item.hour * HOUR,
        item.key === null ? item.rules : [...item.rules, keyedCandidate(item.key)],
      ),
    ),
  );
const capArb = fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constant(CAP));
const stateOf = ({ history: _, ...state }: ReturnType<typeof foldScoresV2>): FoldStateV2 => state;

/** Figures the properties reach, counted so a run that never reached a clamp shows it (checked after the runs). */
const reached = { limit: 0, group: 0, capped: 0, floored: 0 };

describe("the v2 fold, for any set of events", () => {
  it("gives the history of the sorted events whatever the arrival order, counting the first copy of an id", () => {
    fc.assert(
      fc.property(eventsArb, capArb, fc.infiniteStream(fc.nat()), fc.nat(), (events, cap, stream, of) => {
        const expected = foldScoresV2(events, cap);
        const repeat = events[of % (events.length || 1)];
        const copies = repeat ? [{ ...repeat, timestamp: repeat.timestamp + 1, candidates: [CANDIDATES[6]] }] : [];
        expect(foldScoresV2([...shuffled(events, stream), ...(copies as ScorableEventV2[])], cap)).toEqual(expected);
        for (const entry of expected.history) {
          for (const rule of entry.rules) {
            if (rule.cuts.some((cut) => cut.startsWith("limit"))) reached.limit += 1;
            if (rule.cuts.some((cut) => cut.startsWith("group"))) reached.group += 1;
            if (rule.cuts.some((cut) => cut.startsWith("capped"))) reached.capped += 1;
            if (rule.cuts.some((cut) => cut.startsWith("floored"))) reached.floored += 1;
          }
        }
      }),
      propertyRuns(300),
    );
    expect(Object.values(reached).every((count) => count > 0)).toBe(true);
  });

  it("folds any split into consecutive slices, each from the last one's state, exactly as all at once", () => {
    fc.assert(
      fc.property(eventsArb, capArb, fc.array(fc.nat(), { maxLength: 5 }), (events, cap, cuts) => {
        const all = foldScoresV2(events, cap);
        const byId = new Map(events.map((e) => [e.event_id, e]));
        const sorted = all.history.map((entry) => byId.get(entry.event_id) as ScorableEventV2);
        const bounds = [...new Set(cuts.map((cut) => cut % (sorted.length + 1)))].sort((a, b) => a - b);
        let state: Partial<FoldStateV2> = {};
        const history: HistoryEntryV2[] = [];
        let from = 0;
        for (const to of [...bounds, sorted.length]) {
          const slice = foldScoresV2(sorted.slice(from, to), cap, state);
          history.push(...slice.history);
          state = stateOf(slice);
          from = to;
        }
        expect(history).toEqual(all.history);
        expect(state).toEqual(stateOf(all));
      }),
      propertyRuns(300),
    );
  });

  it("lets through exactly the first max matching events of each bucket and key, in event-time order", () => {
    fc.assert(
      fc.property(eventsArb, capArb, (events, cap) => {
        const byId = new Map(events.map((e) => [e.event_id, e]));
        const seen = new Map<string, number>();
        for (const entry of foldScoresV2(events, cap).history) {
          const candidates = (byId.get(entry.event_id) as ScorableEventV2).candidates;
          entry.rules.forEach((rule, i) => {
            const limit = candidates[i]?.limit;
            if (limit === undefined) {
              expect(rule.cuts.some((cut) => cut.startsWith("limit"))).toBe(false);
              return;
            }
            const name = JSON.stringify([rule.rule_id, limit.key, bucketOf(limit.per as LimitPeriod, entry.timestamp)]);
            const before = seen.get(name) ?? 0;
            seen.set(name, before + 1);
            expect(rule.cuts[0]?.startsWith("limit") ?? false).toBe(before >= limit.max);
          });
        }
      }),
      propertyRuns(300),
    );
  });

  it("never lets a group's rules give more than its max, and its state is what they gave", () => {
    fc.assert(
      fc.property(eventsArb, capArb, (events, cap) => {
        const { history, groups } = foldScoresV2(events, cap);
        const totals: Record<string, number> = {};
        for (const entry of history) {
          for (const rule of entry.rules) {
            if (rule.group === null) continue;
            totals[rule.group] = (totals[rule.group] ?? 0) + rule.given;
            if (rule.given > 0) expect(totals[rule.group]).toBeLessThanOrEqual(GROUP_MAX[rule.group] as number);
          }
        }
        expect(groups).toEqual(totals);
      }),
      propertyRuns(300),
    );
  });

  it("keeps scores in [0, cap], each delta the sum of its rules' given points, and deltas summing to the score", () => {
    fc.assert(
      fc.property(eventsArb, capArb, (events, cap) => {
        const { history, score } = foldScoresV2(events, cap);
        let previous = 0;
        for (const entry of history) {
          expect(entry.score).toBeGreaterThanOrEqual(0);
          expect(entry.score).toBeLessThanOrEqual(cap);
          expect(entry.delta).toBe(entry.score - previous);
          expect(entry.delta).toBe(entry.rules.reduce((sum, rule) => sum + rule.given, 0));
          for (const rule of entry.rules) expect(Math.abs(rule.given)).toBeLessThanOrEqual(Math.abs(rule.asked));
          previous = entry.score;
        }
        expect(history.reduce((sum, entry) => sum + entry.delta, 0)).toBe(score);
        const breakdown = breakdownOf(history);
        expect(breakdown.rules.reduce((sum, rule) => sum + rule.points, 0)).toBe(score);
        expect(breakdown.score).toBe(score);
      }),
      propertyRuns(300),
    );
  });

  it("gives a late event that sorts before the awarded ones the award, and the last of them loses it", () => {
    const limited: Candidate = { rule_id: "limited", points: 7, limit: { max: 3, per: "lifetime" } };
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 10, max: 10_000 }), { minLength: 4, maxLength: 12 }),
        fc.nat(),
        (times, place) => {
          const events = times.map((t) => event(`e${t}`, t, [limited]));
          const before = foldScoresV2(events, CAP).history;
          const awarded = before.filter((entry) => entry.delta > 0);
          expect(awarded).toHaveLength(3);
          // A late event placed anywhere before the last award.
          const last = awarded[2] as HistoryEntryV2;
          const late = event("late", 1 + (place % (last.timestamp - 1)), [limited]);
          const after = foldScoresV2([...events, late], CAP).history;
          expect(after.find((entry) => entry.event_id === "late")?.delta).toBe(7);
          expect(after.find((entry) => entry.event_id === last.event_id)?.delta).toBe(0);
          expect(after.filter((entry) => entry.delta > 0)).toHaveLength(3);
        },
      ),
      propertyRuns(300),
    );
  });
});

describe("v1 rules folded by v2", () => {
  const v1Events = fc
    .uniqueArray(
      fc.record({
        event_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,6}$/),
        timestamp: fc.integer({ min: 0, max: 40 }),
        points: fc.integer({ min: -1000, max: 1000 }),
        ruled: fc.boolean(),
      }),
      { selector: (e) => e.event_id, maxLength: 40 },
    )
    .map((items) =>
      items.map(
        (item): ScorableEvent => ({
          event_id: item.event_id,
          lead_id: "lead-1",
          event_type: item.ruled ? "purchase" : "unknown",
          timestamp: item.timestamp,
          received_at: item.timestamp,
          points: item.ruled ? item.points : 0,
          rule_id: item.ruled ? "purchase" : null,
        }),
      ),
    );

  it("give exactly foldScores's history, reasons included, from any start", () => {
    fc.assert(
      fc.property(v1Events, capArb, fc.integer({ min: 0, max: 1000 }), fc.nat(), (events, cap, score, count) => {
        const start = { score, count, reachedAt: null };
        const expected = foldScores(events, cap, start);
        const actual = foldScoresV2(events.map(fromV1Event), cap, start);
        expect(actual.history.map(({ rules: _, rules_version: __, ...entry }) => entry)).toEqual(expected.history);
        expect({ score: actual.score, count: actual.count, reachedAt: actual.reachedAt }).toEqual({
          score: expected.score,
          count: expected.count,
          reachedAt: expected.reachedAt,
        });
      }),
      propertyRuns(500),
    );
  });
});
