// Movements through the worker: real Bull, Redis and MongoDB; the streams read as the API reads them.
import { STAGES, type Stage } from "@leadscore/contracts";
import { liveKeys, type Movement, readMovements } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

let stack: TestStack | undefined;
let redis: Redis | undefined;
afterEach(async () => {
  redis?.disconnect();
  redis = undefined;
  await stack?.close();
  stack = undefined;
});

async function started(): Promise<TestStack> {
  stack = await createStack();
  redis = new Redis(REDIS_URL);
  await stack.startWorker();
  return stack;
}

/** A lead's movements, oldest first, as `from>to:event`. */
async function movementsOf(leadId: string): Promise<string[]> {
  const { movements } = await readMovements(redis as Redis, (stack as TestStack).config.REDIS_PREFIX, {
    since: 0,
    limit: 200,
    after: null,
  });
  return movements
    .filter((movement: Movement) => movement.lead_id === leadId)
    .reverse()
    .map((movement) => `${movement.from}>${movement.to}:${movement.event_id}`);
}

/** Sends events one job each, waiting for each to be scored: one commit per event. */
async function oneByOne(s: TestStack, events: ReturnType<typeof queued>[]) {
  for (const event of events) {
    await s.send([event]);
    await s.drained();
  }
}

describe("when events carry a lead across stage thresholds", () => {
  it("records each stage it entered, up or down, with the event that crossed", async () => {
    const s = await started();
    await oneByOne(s, [
      queued("ana", "a1", "small", T0 + 1), // 100: warm
      queued("ana", "a2", "small", T0 + 2), // 200
      queued("ana", "a3", "small", T0 + 3), // 300: hot
      queued("ana", "a4", "unsubscribe", T0 + 4), // 250: warm again
      queued("ana", "a5", "page_view", T0 + 5), // 255
    ]);
    expect(await movementsOf("ana")).toEqual(["cold>warm:a1", "warm>hot:a3", "hot>warm:a4"]);
    const [latest] = (await readMovements(redis as Redis, s.config.REDIS_PREFIX, { since: 0, limit: 1, after: null }))
      .movements;
    expect(latest).toMatchObject({ lead_id: "ana", from: "hot", to: "warm", event_type: "unsubscribe", score: 250 });
    expect(latest?.timestamp).toBe(T0 + 4);
  });

  it("names the event in a batch at which the score entered its new stage, once per commit", async () => {
    const s = await started();
    await s.send([
      queued("bo", "b1", "small", T0 + 1),
      queued("bo", "b2", "small", T0 + 2),
      queued("bo", "b3", "small", T0 + 3), // 300: hot here
      queued("bo", "b4", "page_view", T0 + 4),
    ]);
    await s.drained();
    expect(await movementsOf("bo")).toEqual(["cold>hot:b3"]);
  });
});

describe("when a late event changes which event crossed", () => {
  it("names the late event when it moves the stage, and leaves a recorded movement as it was otherwise", async () => {
    const s = await started();
    await oneByOne(s, [queued("cy", "c10", "small", T0 + 10), queued("cy", "c20", "small", T0 + 20)]);
    // Slotted in before both: 100, 200, 300 — the lead is hot now, carried there by the late event.
    await oneByOne(s, [queued("cy", "c05", "small", T0 + 5)]);
    expect(await movementsOf("cy")).toEqual(["cold>warm:c10", "warm>hot:c05"]);

    await oneByOne(s, [queued("di", "d10", "small", T0 + 10), queued("di", "d20", "small", T0 + 20)]);
    await oneByOne(s, [queued("di", "d30", "small", T0 + 30)]);
    // Another late event: the history now enters hot at d20, but the stage did not move: nothing new is recorded.
    await oneByOne(s, [queued("di", "d05", "small", T0 + 5)]);
    expect(await movementsOf("di")).toEqual(["cold>warm:d10", "warm>hot:d30"]);
  });
});

describe("when the live state is rebuilt", () => {
  it("keeps the movements recorded and records none", async () => {
    const s = await started();
    await oneByOne(s, [queued("ed", "e1", "big", T0 + 1), queued("fa", "f1", "small", T0 + 1)]);
    const lengths = () =>
      Promise.all(
        STAGES.map((stage: Stage) => (redis as Redis).xlen(liveKeys(s.config.REDIS_PREFIX).movedInto(stage))),
      );
    const before = await lengths();
    expect(before).toEqual([0, 1, 0, 1]);
    const keys = liveKeys(s.config.REDIS_PREFIX);
    await withRebuildLock(redis as Redis, keys, () =>
      rebuildLiveState({
        db: s.db,
        redis: redis as Redis,
        keys,
        cap: s.config.SCORE_CAP,
        thresholds: s.config.STAGE_THRESHOLDS,
        log: silentLogger,
      }),
    );
    expect(await (redis as Redis).zcard(keys.byScore)).toBe(2);
    expect(await lengths()).toEqual(before);
  });
});
