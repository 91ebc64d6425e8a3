// The retired-page sweep runs only while the worker's queue is idle, read from the queued-events count. That count
// is kept by separate writes (the edge adds a job's events, the worker takes them off); one lost while Redis was away
// (a restart: the write failed and was dropped) leaves it above zero with nothing queued. The sweep must still find
// the queue idle then, or retired pages stay stored for good.
import { COLLECTIONS } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { queuedEventsKey } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStack, type TestStack } from "../../test-support/worker-stack.ts";
import { RETIRED_GRACE_MS, RETIRED_SWEEP_MS } from "../src/page-garbage.ts";

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await createStack();
  await stack.startWorker();
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe("when the queued-events count stayed above zero with no job queued", () => {
  it("still sweeps the retired pages past their grace", async () => {
    const prefix = stack.config.REDIS_PREFIX;
    const pages = stack.db.collection<{ _id: string; lead_id: string }>(COLLECTIONS.historyPages);
    const id = "drift-lead|retired-page";
    await pages.insertOne({ _id: id, lead_id: "drift-lead" });
    await redis.zadd(liveKeys(prefix).retiredPages, Date.now() - RETIRED_GRACE_MS - 1_000, id);
    // Five events' take-off lost: nothing is queued, the count says five.
    await redis.set(queuedEventsKey(prefix), 5);
    await eventually(async () => (await pages.countDocuments({ _id: id })) === 0, 3 * RETIRED_SWEEP_MS);
    expect(await redis.zcard(liveKeys(prefix).retiredPages)).toBe(0);
  }, 30_000);
});
