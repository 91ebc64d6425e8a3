// What the worker's in-process tests (scorer and deep lane driven directly) share: a database and a Redis prefix of
// their own, with the live state's generation set (commits name it), cleaned up after the suite.
import { type LiveKeys, liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { afterAll, beforeAll } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";

export interface LiveBed {
  prefix: string;
  keys: LiveKeys;
  /** Set once the suite's `beforeAll` ran. */
  db: Db;
  redis: Redis;
}

/** Registers the suite's setup and cleanup; the bed's `db` and `redis` are there from its first test on. */
export function useLiveBed(label: string, generation: string): LiveBed {
  const prefix = uniqueName(label);
  const bed = { prefix, keys: liveKeys(prefix) } as LiveBed;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const testDb = await createTestDb(prefix);
    const testRedis = await createTestRedis(prefix);
    cleanup = async () => {
      await testRedis.cleanup();
      await testDb.drop();
    };
    bed.db = testDb.db;
    bed.redis = testRedis.redis;
    await bed.redis.set(bed.keys.gen, generation);
  });
  afterAll(async () => cleanup?.());
  return bed;
}

/** Runs deep-lane passes until the lane owns no lead (50 at most). */
export async function drainDeepLane(deepLane: { runOnce(): Promise<number> }, bed: Pick<LiveBed, "redis" | "keys">) {
  for (let pass = 0; (await bed.redis.hlen(bed.keys.deep)) > 0; pass++) {
    if (pass > 50) throw new Error("the deep lane did not empty in 50 passes");
    await deepLane.runOnce();
  }
}
