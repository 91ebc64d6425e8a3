// Reads with decay, on real Redis: the score index keyed on `decayRankKey`, every filter, count, stage and histogram
// read at the request's instant from the same sorted set, against the scores computed lead by lead at that instant.
import {
  crossingInstant,
  DEFAULT_STAGE_THRESHOLDS,
  decayedScore,
  decayKey,
  STAGES,
  type Stage,
  stageAt,
  stageFor,
} from "@leadscore/contracts";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { propertyRuns } from "../../test-support/property.ts";
import { encodeLeadHash } from "../src/codec.ts";
import { decayCrossingRange, decayRankKey, nextUp } from "../src/decay-index.ts";
import { createLiveReader, type LeadSort, type ListQuery } from "../src/reader.ts";

const CAP = 1000;
const T0 = Date.parse("2026-12-06T12:00:00Z");

interface Lead {
  id: string;
  /** The score its last event set, and that event's time. */
  score: number;
  at: number;
}

describe("reads with decay", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(() => redis.quit());

  /** A reader over fresh keys, its clock at `clock.t`, with the leads written as a commit writes them. */
  async function stateWith(leads: Lead[], halfLifeSeconds: number) {
    const clock = { t: T0 };
    const reader = createLiveReader({
      redis,
      redisPrefix: uniqueName("decay-reads"),
      cap: CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
      halfLife: () => halfLifeSeconds,
      now: () => clock.t,
    });
    const { keys } = reader;
    const pipeline = redis.multi();
    for (const lead of leads) {
      const stage = stageFor(lead.score);
      pipeline.hset(
        keys.lead(lead.id),
        encodeLeadHash({
          version: "1",
          score: String(lead.score),
          stage,
          count: "1",
          lastEventAt: String(lead.at),
          updatedAt: String(lead.at),
        }),
      );
      pipeline.zadd(keys.byScore, decayRankKey(lead.score, lead.at, halfLifeSeconds), lead.id);
      pipeline.zadd(keys.byUpdated, lead.at, lead.id);
      pipeline.zadd(keys.byUpdatedIn(stage), lead.at, lead.id);
      pipeline.zadd(keys.byLastEvent, lead.at, lead.id);
    }
    await pipeline.exec();
    const cleanup = async () => {
      await redis.del(
        keys.byScore,
        keys.byUpdated,
        keys.byLastEvent,
        ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
        ...leads.map((lead) => keys.lead(lead.id)),
      );
    };
    return { reader, clock, cleanup };
  }

  it("lists the issue's lead, scored 320 with a half-life of 5 s, as hot until 465 ms and as warm from 466 ms", async () => {
    const lead: Lead = { id: "lead-320", score: 320, at: T0 };
    const { reader, clock, cleanup } = await stateWith([lead, { id: "lead-0", score: 0, at: T0 }], 5);
    try {
      const instant = crossingInstant(decayKey(320, T0, 5), 300, T0, 5);
      expect(instant - T0).toBe(466);
      const ids = async (stage: Stage) =>
        (await reader.list({ stage, sort: "-score", limit: 10 })).leads.map((l) => l.id);
      clock.t = instant - 1;
      expect(await ids("hot")).toEqual(["lead-320"]);
      expect(await ids("warm")).toEqual([]);
      expect((await reader.lead("lead-320"))?.stage).toBe("hot");
      clock.t = instant;
      expect(await ids("hot")).toEqual([]);
      expect(await ids("warm")).toEqual(["lead-320"]);
      expect(await ids("cold")).toEqual(["lead-0"]);
      // By activity too: the per-stage activity index still files it under hot, but the read follows the score.
      expect((await reader.list({ stage: "warm", sort: "-updated_at", limit: 10 })).leads.map((l) => l.id)).toEqual([
        "lead-320",
      ]);
      const shown = await reader.lead("lead-320");
      expect(shown?.stage).toBe("warm");
      expect(shown?.score).toBe(decayedScore(320, T0, instant, 5));
      expect(shown?.score).toBeLessThan(300);
      expect(await reader.countByStage()).toEqual({ cold: 1, warm: 1, hot: 0, qualified: 0 });
    } finally {
      await cleanup();
    }
  });

  it("answers counts, stages, score filters, the histogram, the leaderboard and ranks as the scores at that instant", async () => {
    const leadArb = fc.record({
      id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
      score: fc.oneof(
        fc.constant(0),
        fc.double({ min: 0.5, max: CAP, noNaN: true }),
        fc.constantFrom(100, 300, 600, CAP),
      ),
      at: fc.integer({ min: -600_000, max: 0 }).map((ms) => T0 + ms),
    });
    let crossingsSeen = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(leadArb, { minLength: 1, maxLength: 30, selector: (lead) => lead.id }),
        fc.constantFrom(5, 60, 3600),
        fc.integer({ min: 0, max: 1_200_000 }),
        fc.record({ min: fc.integer({ min: 0, max: CAP }), max: fc.integer({ min: 0, max: CAP }) }),
        async (leads, halfLife, later, filter) => {
          const { reader, clock, cleanup } = await stateWith(leads, halfLife);
          try {
            clock.t = T0 + later;
            const key = (lead: Lead) => decayKey(lead.score, lead.at, halfLife);
            const now = (lead: Lead) => decayedScore(lead.score, lead.at, clock.t, halfLife);
            const stageNow = (lead: Lead) => stageAt(key(lead), clock.t, halfLife);
            crossingsSeen += leads.filter((lead) => stageNow(lead) !== stageFor(lead.score)).length;
            // Leaderboard order: score now, highest first; equal keys by id, bytewise.
            const order = [...leads].sort((a, b) => key(b) - key(a) || (a.id < b.id ? -1 : 1)).map((lead) => lead.id);
            expect((await reader.leaderboard(100)).map((lead) => lead.id)).toEqual(order);
            // A lead's `rank` is its place in that order.
            const ranks = await Promise.all(order.map(async (id) => (await reader.rank(id)).rank));
            expect(ranks).toEqual(order.map((_, i) => i + 1));
            const counts = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>;
            for (const lead of leads) counts[stageNow(lead)] += 1;
            expect(await reader.countByStage()).toEqual(counts);
            for (const stage of STAGES) {
              for (const sort of ["-score", "-updated_at"] as LeadSort[]) {
                const page = await reader.list({ stage, sort, limit: 200 });
                const want = leads.filter((lead) => stageNow(lead) === stage).map((lead) => lead.id);
                expect(page.leads.map((lead) => lead.id).sort()).toEqual(want.sort());
                expect(page.total).toBe(want.length);
                for (const lead of page.leads) expect(lead.stage).toBe(stage);
              }
            }
            // min_score / max_score, inclusive, on the exact value at that instant (away from rounding at a bound).
            const query: ListQuery = { minScore: filter.min, maxScore: filter.max, sort: "-score", limit: 200 };
            const near = (value: number, bound: number) => Math.abs(value - bound) < 1e-9 * Math.max(1, bound);
            if (!leads.some((lead) => near(now(lead), filter.min) || near(now(lead), filter.max))) {
              const want = leads.filter((lead) => now(lead) >= filter.min && now(lead) <= filter.max);
              const page = await reader.list(query);
              expect(page.leads.map((lead) => lead.id).sort()).toEqual(want.map((lead) => lead.id).sort());
              expect(page.total).toBe(want.length);
            }
            const histogram = await reader.histogram(100);
            expect(histogram.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(leads.length);
            for (const bucket of histogram) {
              const want = leads.filter((lead) => {
                const value = now(lead);
                return value >= bucket.min && (bucket.max === CAP ? value <= CAP : value < bucket.max + 1);
              });
              if (leads.some((lead) => near(now(lead), bucket.min))) continue;
              expect(bucket.count).toBe(want.length);
            }
          } finally {
            await cleanup();
          }
        },
      ),
      propertyRuns(40),
    );
    expect(crossingsSeen).toBeGreaterThan(0);
  });

  it("finds by one range read per threshold exactly the leads whose crossing instant falls in an interval", async () => {
    let found = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(
          fc.record({
            id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
            score: fc.double({ min: 1, max: CAP, noNaN: true }),
            at: fc.integer({ min: -60_000, max: 0 }).map((ms) => T0 + ms),
          }),
          { minLength: 1, maxLength: 40, selector: (lead) => lead.id },
        ),
        fc.constantFrom(5, 60),
        fc.integer({ min: 0, max: 120_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        async (leads, halfLife, start, interval) => {
          const { reader, cleanup } = await stateWith(leads, halfLife);
          try {
            const [from, to] = [T0 + start, T0 + start + interval];
            for (const threshold of DEFAULT_STAGE_THRESHOLDS) {
              const [lo, hi] = decayCrossingRange(threshold, from, to, halfLife);
              const got = await redis.zrangebyscore(reader.keys.byScore, lo, hi);
              const want = leads.filter((lead) => {
                // Decay only lowers a score: a lead below the threshold at its last event never crosses it.
                if (lead.score < threshold) return false;
                const instant = crossingInstant(decayKey(lead.score, lead.at, halfLife), threshold, lead.at, halfLife);
                return instant > from && instant <= to;
              });
              expect(got.sort()).toEqual(want.map((lead) => lead.id).sort());
              found += got.length;
            }
          } finally {
            await cleanup();
          }
        },
      ),
      propertyRuns(40),
    );
    expect(found).toBeGreaterThan(0);
  });

  it("keys a zero score after every other lead, and takes an exclusive bound as the next double", () => {
    expect(decayRankKey(0, T0, 5)).toBeGreaterThan(decayRankKey(Number.MIN_VALUE, T0 - 1e12, 1));
    expect(Number.isFinite(decayRankKey(0, T0, 5))).toBe(true);
    expect(nextUp(1)).toBe(1 + Number.EPSILON);
    expect(nextUp(-1)).toBeGreaterThan(-1);
    expect(nextUp(Number.NEGATIVE_INFINITY)).toBe(-Number.MAX_VALUE);
  });
});
