// Stage changes caused by time, on real Redis and the store: with a half-life of 5 s a lead scored 320 (hot) turns
// warm 466 ms later with no event — its stored stage and stage indexes move, a `score_update` is published, a
// `lead.stage_changed` message with event type `decay` is recorded at the exact instant, `stage=hot` stops listing it
// and `stage=warm` lists it — once, whatever the number of workers, after a worker restart, and after a ticker killed
// between its reads and its commit.
import {
  COLLECTIONS,
  crossingInstant,
  DEFAULT_STAGE_THRESHOLDS,
  decayKey,
  type RuleDocument,
  realtimeChannelKey,
} from "@leadscore/contracts";
import { createLiveReader, liveKeys, readMovements } from "@leadscore/live";
import { silentLogger, writeScoringSettings } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";
import { createDecayTicker } from "../src/decay-ticker.ts";
import { encodeScoreUpdates } from "../src/publisher.ts";

const H = 5;

let stack: TestStack;
let redis: Redis;
let listener: Redis;
const published: string[] = [];

beforeAll(async () => {
  stack = await createStack();
  const at = new Date();
  await stack.db.collection<RuleDocument>(COLLECTIONS.rules).insertOne({
    _id: "hot",
    event_type: "hot",
    points: 320,
    active: true,
    label: "Hot",
    created_at: at,
    updated_at: at,
  });
  await writeScoringSettings(stack.db, { half_life_seconds: H }, at);
  redis = new Redis(REDIS_URL);
  // Some subscription wants stage changes.
  await redis.set(liveKeys(stack.config.REDIS_PREFIX).outbox.wants, "s");
  listener = new Redis(REDIS_URL);
  await listener.psubscribe(`${realtimeChannelKey(stack.config.REDIS_PREFIX)}*`);
  listener.on("pmessageBuffer", (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
    published.push(message.toString("latin1"));
  });
});

afterAll(async () => {
  listener?.disconnect();
  redis?.disconnect();
  await stack?.close();
});

const keys = () => liveKeys(stack.config.REDIS_PREFIX);

/** The `lead.stage_changed` messages of the outbox for a lead. */
async function stageChanges(leadId: string): Promise<Record<string, string>[]> {
  const entries = (await redis.xrange(keys().outbox.stream, "-", "+")) as [string, string[]][];
  return entries
    .map(([, fields]) =>
      Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))),
    )
    .filter((message) => message.type === "lead.stage_changed" && message.lead === leadId);
}

/** The movements of a lead into `stage` (GET /api/movements' source). */
async function movementsInto(stage: "hot" | "warm", leadId: string) {
  const { movements } = await readMovements(redis, stack.config.REDIS_PREFIX, {
    stage,
    since: 0,
    limit: 200,
    after: null,
  });
  return movements.filter((movement) => movement.lead_id === leadId);
}

function reader() {
  return createLiveReader({
    redis,
    redisPrefix: stack.config.REDIS_PREFIX,
    cap: stack.config.SCORE_CAP,
    thresholds: stack.config.STAGE_THRESHOLDS,
    halfLife: () => H,
  });
}

const listed = async (stage: "hot" | "warm") =>
  (await reader().list({ stage, sort: "-score", limit: 200 })).leads.map((lead) => lead.id);

/** Scores `leadId` 320 now and waits until time has moved it to warm; returns its crossing instant. */
async function scoreAndCool(leadId: string): Promise<number> {
  const at = Date.now();
  await stack.send([queued(leadId, `${leadId}-e`, "hot", at)]);
  await stack.drained();
  const instant = crossingInstant(decayKey(320, at, H), 300, at, H);
  expect(instant - at).toBe(466);
  await eventually(async () => (await redis.hget(keys().lead(leadId), "st")) === "warm", 10_000);
  return instant;
}

describe("when a lead scored 320 decays past 300 with a half-life of 5 s", () => {
  it("turns warm at 466 ms with no event: stage indexes, score_update, webhook message with cause decay, lists", async () => {
    await stack.startWorker({ rulesReloadMs: 3_600_000 });
    const instant = await scoreAndCool("cool-1");
    const changes = await stageChanges("cool-1");
    expect(changes.filter((change) => change.etype === "decay")).toEqual([
      expect.objectContaining({ from: "hot", to: "warm", etype: "decay", event: "decay:warm", at: String(instant) }),
    ]);
    expect(Number(changes.at(-1)?.score)).toBeLessThan(300);
    expect(published.some((message) => message.includes("cool-1") && message.includes("decay:warm"))).toBe(true);
    expect(await redis.zscore(keys().byUpdatedIn("hot"), "cool-1")).toBeNull();
    expect(await redis.zscore(keys().byUpdatedIn("warm"), "cool-1")).not.toBeNull();
    expect(await listed("hot")).not.toContain("cool-1");
    expect(await listed("warm")).toContain("cool-1");
    // Kept with the stage changes of the week (GET /api/movements, the dashboard's Today), named as the decay.
    const [movement, ...more] = await movementsInto("warm", "cool-1");
    expect(more).toEqual([]);
    expect(movement).toMatchObject({ from: "hot", to: "warm", event_id: "decay:warm", event_type: "decay" });
    expect([movement?.timestamp, movement?.at]).toEqual([instant, instant]);
    expect(movement?.score).toBeLessThan(300);
  });

  it("does the same after a worker restart, and once across two workers", async () => {
    for (const worker of stack.workers.splice(0)) await worker.close();
    await stack.startWorker({ rulesReloadMs: 3_600_000 });
    await stack.startWorker({ rulesReloadMs: 3_600_000 });
    const leads = Array.from({ length: 20 }, (_, i) => `cool-many-${i}`);
    const at = Date.now();
    await stack.send(leads.map((id) => queued(id, `${id}-e`, "hot", at)));
    await stack.drained();
    await eventually(async () => {
      const stages = await Promise.all(leads.map((id) => redis.hget(keys().lead(id), "st")));
      return stages.every((stage) => stage === "warm");
    }, 10_000);
    for (const id of leads) {
      expect((await stageChanges(id)).filter((change) => change.etype === "decay")).toHaveLength(1);
      expect(await movementsInto("warm", id)).toHaveLength(1);
    }
    expect(await listed("warm")).toEqual(expect.arrayContaining(leads));
  });
});

describe("when a ticker is killed between its reads and its commit", () => {
  it("leaves the crossings to the next holder, which commits each once", async () => {
    for (const worker of stack.workers.splice(0)) await worker.close();
    const at = Date.now();
    // 640, scored by a worker stopped right after: its ticker may move it to hot (at 466 ms), not to warm (at 5.47 s).
    const scorer = await stack.startWorker({ rulesReloadMs: 3_600_000 });
    await stack.send([queued("cool-killed", "killed-1", "hot", at), queued("cool-killed", "killed-2", "hot", at)]);
    await stack.drained();
    await scorer.close();
    stack.workers.splice(0);
    const instant = crossingInstant(decayKey(640, at, H), 300, at, H);
    expect(await redis.hget(keys().lead("cool-killed"), "st")).not.toBe("warm");
    await eventually(async () => Date.now() > instant, 10_000);
    await redis.set(keys().decayThrough, String(at));

    const doomed = new Redis(REDIS_URL);
    const options = {
      keys: keys(),
      cap: stack.config.SCORE_CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
      halfLife: () => H,
      encodeUpdates: (updates: Parameters<typeof encodeScoreUpdates>[1]) =>
        encodeScoreUpdates(realtimeChannelKey(stack.config.REDIS_PREFIX), [...updates]),
      log: silentLogger,
    };
    const killed = createDecayTicker({
      ...options,
      redis: doomed,
      beforeCommit: async () => {
        // The process dies here: its connection goes, its lock stays until it expires.
        doomed.disconnect();
        throw new Error("killed");
      },
    });
    await expect(killed.tick()).rejects.toThrow();
    expect(await redis.hget(keys().lead("cool-killed"), "st")).not.toBe("warm");
    expect(await redis.get(keys().decayThrough)).toBe(String(at));

    const next = createDecayTicker({ ...options, redis });
    await eventually(async () => (await next.tick()) > 0, 5_000);
    expect(await redis.hget(keys().lead("cool-killed"), "st")).toBe("warm");
    // A second turn commits nothing more of this lead's (it may commit other leads of this file: the twenty scored
    // 320 by the test before, when it runs first, cross 100 some 8.4 s after it scored them).
    await next.tick();
    expect((await stageChanges("cool-killed")).filter((change) => change.to === "warm")).toEqual([
      expect.objectContaining({ to: "warm", etype: "decay", at: String(instant) }),
    ]);
    expect(await movementsInto("warm", "cool-killed")).toEqual([expect.objectContaining({ timestamp: instant })]);
  });
});
