// The worker folding with a half-life, on real Redis and the store: each event's score is the one before decayed to
// its time plus its points, late events (in the tail, and in pages the deep lane folds) give the history as if known
// all along, the score index is keyed on `log2 s + t/H`, and a rebuild gives the same state.
import { clampScore, decayedScore, STAGES } from "@leadscore/contracts";
import { createLiveReader, decayRankKey, liveKeys, movementKey } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { writeScoringSettings } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  identifyRequest,
  leadOf,
  queued,
  rebuildOptionsOf,
  sendMerges,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

const H = 60;
const POINTS: Record<string, number> = { big: 600, small: 100, unsubscribe: -50, page_view: 5 };

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await createStack();
  await writeScoringSettings(stack.db, { half_life_seconds: H }, new Date());
  await stack.startWorker({ rulesReloadMs: 3_600_000 });
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

/** The scores the fold gives: each event's score is the one before decayed to its time, plus its points. */
function expectedScores(events: { type: string; at: number }[]): number[] {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const scores: number[] = [];
  let score = 0;
  let at: number | null = null;
  for (const event of sorted) {
    if (at !== null) score = decayedScore(score, at, event.at, H);
    score = clampScore(score + (POINTS[event.type] ?? 0), 1000);
    at = event.at;
    scores.push(score);
  }
  return scores;
}

async function indexKeyOf(leadId: string): Promise<number> {
  return Number(await redis.zscore(liveKeys(stack.config.REDIS_PREFIX).byScore, leadId));
}

describe("when decay is on with a half-life of 60 s", () => {
  it("decays the score between events to the exact value and keys the index on it", async () => {
    await stack.send([
      queued("d-a", "a1", "big", T0),
      queued("d-a", "a2", "small", T0 + 60_000),
      queued("d-a", "a3", "big", T0 + 120_000),
    ]);
    await stack.drained();
    const history = await historyOf(stack, "d-a");
    // 600, then 300 + 100, then 200 + 600: halves exactly.
    expect(history.map((entry) => entry.score)).toEqual([600, 400, 800]);
    expect(history.map((entry) => entry.delta)).toEqual([600, 100, 600]);
    expect(await indexKeyOf("d-a")).toBe(decayRankKey(800, T0 + 120_000, H));
  });

  it("slots a late event into the tail as if it had been known all along", async () => {
    const events = [
      { id: "b1", type: "big", at: T0 },
      { id: "b3", type: "small", at: T0 + 90_000 },
    ];
    await stack.send(events.map((e) => queued("d-b", e.id, e.type, e.at)));
    await stack.drained();
    const late = { id: "b2", type: "unsubscribe", at: T0 + 17_000 };
    await stack.send([queued("d-b", late.id, late.type, late.at)]);
    await stack.drained();
    const history = await historyOf(stack, "d-b");
    expect(history.map((entry) => entry.event_id)).toEqual(["b1", "b2", "b3"]);
    expect(history.map((entry) => entry.score)).toEqual(expectedScores([...events, late]));
    expect(await indexKeyOf("d-b")).toBe(decayRankKey(history.at(-1)?.score ?? 0, T0 + 90_000, H));
  });

  it("folds a late event older than the tail through the pages, and a rebuild gives the same state", async () => {
    const events = Array.from({ length: 240 }, (_, i) => ({
      id: `c${String(i).padStart(3, "0")}`,
      type: i % 7 === 0 ? "small" : "page_view",
      at: T0 + i * 5_000,
    }));
    await stack.send(events.map((e) => queued("d-c", e.id, e.type, e.at)));
    await stack.drained();
    const late = { id: "c-late", type: "big", at: T0 + 2_500 };
    await stack.send([queued("d-c", late.id, late.type, late.at)]);
    await stack.drained();
    const want = expectedScores([...events, late]);
    const history = await historyOf(stack, "d-c");
    expect(history.map((entry) => entry.score)).toEqual(want);
    const key = await indexKeyOf("d-c");
    expect(key).toBe(decayRankKey(want.at(-1) ?? 0, T0 + 239 * 5_000, H));

    const keys = liveKeys(stack.config.REDIS_PREFIX);
    // The pages may be laid out apart (a rebuild spills from scratch): the state and the history are the same.
    const before = await redis.hmget(keys.lead("d-c"), "s", "le", "n");
    // Under the rebuild lock, as a worker rebuilds: a worker that saw a rebuild no process holds would start its own.
    await withRebuildLock(redis, keys, (lock) =>
      rebuildLiveState({ ...rebuildOptionsOf(stack, redis), halfLife: () => H, lock }),
    );
    expect(await redis.hmget(keys.lead("d-c"), "s", "le", "n")).toEqual(before);
    expect(await indexKeyOf("d-c")).toBe(key);
    expect((await historyOf(stack, "d-c")).map((entry) => entry.score)).toEqual(want);
  });

  it("folds an anonymous lead merged into a known one as one lead's events, decayed across both", async () => {
    const anonymous = [
      { id: "m1", type: "big", at: T0 },
      { id: "m3", type: "page_view", at: T0 + 30_000 },
      { id: "m5", type: "small", at: T0 + 90_000 },
    ];
    const known = [
      { id: "m2", type: "small", at: T0 + 15_000 },
      { id: "m4", type: "unsubscribe", at: T0 + 60_000 },
      { id: "m6", type: "big", at: T0 + 150_000 },
    ];
    await stack.send(anonymous.map((e) => queued("d-anon", e.id, e.type, e.at)));
    await stack.send(known.map((e) => queued("d-known", e.id, e.type, e.at)));
    await stack.drained();
    await sendMerges(stack, [identifyRequest("d-anon", "d-known")]);
    await stack.drained();
    await eventually(async () => (await leadOf(stack, "d-anon")) === null, 10_000);
    const want = expectedScores([...anonymous, ...known]);
    // Each event's score is the one before it, whichever lead it came from, decayed to its time, plus its points.
    const history = await historyOf(stack, "d-known");
    expect(history.map((entry) => entry.event_id)).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
    expect(history.map((entry) => entry.score)).toEqual(want);
    expect(await indexKeyOf("d-known")).toBe(decayRankKey(want.at(-1) ?? 0, T0 + 150_000, H));
    expect(await auditAll(stack)).toEqual([]);
  });

  it("files the lead under the stage its score has decayed to when it commits, as the reads do", async () => {
    // 320 an hour ago has halved 60 times since: cold now, though hot at its event.
    const now = Date.now();
    await stack.send([queued("d-d", "d1", "big", now - 3_600_000)]);
    await stack.drained();
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    expect(await redis.hget(keys.lead("d-d"), "st")).toBe("cold");
    expect(await redis.zscore(keys.byUpdatedIn("cold"), "d-d")).not.toBeNull();
    for (const stage of STAGES.filter((s) => s !== "cold")) {
      expect(await redis.zscore(keys.byUpdatedIn(stage), "d-d")).toBeNull();
    }
    const reader = createLiveReader({
      redis,
      redisPrefix: stack.config.REDIS_PREFIX,
      cap: stack.config.SCORE_CAP,
      thresholds: stack.config.STAGE_THRESHOLDS,
      halfLife: () => H,
    });
    const lead = await reader.lead("d-d");
    expect(lead?.stage).toBe("cold");
    expect(lead?.score).toBeLessThan(1e-9);
  });

  it("passes the audit folded with the half-life, which an audit folding without decay fails", async () => {
    await stack.send([
      queued("d-e", "e1", "big", T0 + 1_000),
      queued("d-e", "e2", "small", T0 + 31_000),
      queued("d-e", "e3", "unsubscribe", T0 + 45_000),
    ]);
    await stack.drained();
    // auditAll reads the half-life from the scoring settings, as `npm run rebuild -- --check` does.
    expect(await auditAll(stack)).toEqual([]);
    const undecayed = await auditLiveState({
      db: stack.db,
      redis,
      redisPrefix: stack.config.REDIS_PREFIX,
      cap: stack.config.SCORE_CAP,
      thresholds: stack.config.STAGE_THRESHOLDS,
    });
    expect(undecayed.problems.some((problem) => problem.startsWith("d-e: score"))).toBe(true);
  });

  it("reports a stage left above the one the lead decayed to by the ticker's last turn: a crossing missed", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const now = Date.now();
    await stack.send([queued("d-f", "f1", "big", now - 600_000)]);
    await stack.drained();
    expect(await auditAll(stack)).toEqual([]);
    const through = await redis.get(keys.decayThrough);
    await redis.hset(keys.lead("d-f"), "st", "hot");
    try {
      // 320 ten minutes ago is cold by any turn since; without a turn the stage may still be the event's.
      if (through === null) await redis.set(keys.decayThrough, String(now));
      expect(await auditAll(stack)).toContainEqual(
        expect.stringMatching(/^d-f: stage hot, but it had decayed to cold/),
      );
    } finally {
      await redis.hset(keys.lead("d-f"), "st", "cold");
      if (through === null) await redis.del(keys.decayThrough);
    }
  });

  it("records a movement when an event lifts a lead from the stage it had decayed to, compared at the event's instant", async () => {
    const now = Date.now();
    // 600 at its event (qualified), filed as warm when committed 130 s later (about 134).
    await stack.send([queued("d-g", "g1", "big", now - 130_000)]);
    await stack.drained();
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    expect(await redis.hget(keys.lead("d-g"), "st")).toBe("warm");
    // About 136 decayed to this event, plus 600: qualified again — as at the last event, yet a move from warm.
    await stack.send([queued("d-g", "g2", "big", now - 1_000)]);
    await stack.drained();
    expect(await redis.hget(keys.lead("d-g"), "st")).toBe("qualified");
    const entries = (await redis.xrange(movementKey(stack.config.REDIS_PREFIX, "qualified"), "-", "+")) as [
      string,
      string[],
    ][];
    const moves = entries
      .map(([, fields]) =>
        Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))),
      )
      .filter((fields) => fields.lead === "d-g");
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ from: "warm" });
    expect(JSON.parse(moves[0]?.e as string)[0]).toBe("g2");
  });
});
