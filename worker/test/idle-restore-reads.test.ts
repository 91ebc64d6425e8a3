// Idle leads given back what they shed (`restoreIdleLeads`: what the scorer does before it folds a batch's idle leads,
// and `restoreIfIdle`: the deep lane's) read their archives a bounded number at once, however many leads a batch
// holds, and each gets back exactly its fields.
import type { QueuedEvent } from "@leadscore/contracts";
import {
  IDLE_COLLECTION,
  IDLE_FIELDS,
  IDLE_MARK,
  idleArchiveOf,
  leadHashFields,
  liveKeys,
  restoreIdleLeads,
  restoreIfIdle,
  shrinkIdleLeads,
} from "@leadscore/live";
import { BY_ID_IN_FLIGHT } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchedClientsPerTest } from "../../test-support/commands.ts";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";

const MINUTE = 60_000;
/** Restored by the scorer's call, and by the deep lane's. */
const SCORED = Array.from({ length: 3 * BY_ID_IN_FLIGHT }, (_, n) => `scored-${String(n).padStart(2, "0")}`);
const DEEP = Array.from({ length: 3 * BY_ID_IN_FLIGHT }, (_, n) => `deep-${String(n).padStart(2, "0")}`);

function eventsOf(leadId: string): QueuedEvent[] {
  const types = ["page_view", "email_open", "form_submission"];
  return Array.from({ length: 4 }, (_, n) =>
    queued(leadId, `${leadId}-${n}`, types[n % types.length] as string, T0 + n * MINUTE),
  );
}

describe("when a batch holds many idle leads", () => {
  let stack: TestStack;
  let redis: Redis;
  /** Each lead's shed fields as they were before it went idle. */
  const before = new Map<string, (string | null)[]>();
  const watchedClient = watchedClientsPerTest();
  const names = leadHashFields(IDLE_FIELDS);

  async function watchedArchive() {
    const watched = await watchedClient(
      stack.env.MONGO_URL as string,
      (command, collection) => command === "find" && collection === IDLE_COLLECTION,
      // A connection for every lead: what bounds the reads is the restore, not the pool.
      { open: SCORED.length },
    );
    return { watched, archive: idleArchiveOf(watched.client.db(stack.db.databaseName)) };
  }

  beforeAll(async () => {
    stack = await createStack();
    redis = new Redis(REDIS_URL);
    await stack.startWorker();
    await stack.send([...SCORED, ...DEEP].flatMap(eventsOf));
    await stack.drained();
    // Nothing moves the leads while they are restored.
    await Promise.all(stack.workers.map((worker) => worker.close()));
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    for (const id of [...SCORED, ...DEEP]) before.set(id, await redis.hmget(keys.lead(id), ...names));
    const shrunk = await shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 0, now: () => Date.now() + 1000 });
    expect(shrunk).toBe(SCORED.length + DEEP.length);
  }, 120_000);
  afterAll(async () => {
    redis.disconnect();
    await stack.close();
  });

  // One test: the tests of a file run in a shuffled order, and a restore changes the leads for the next.
  it("reads at most BY_ID_IN_FLIGHT archives at once, and gives each lead back its own fields", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    for (const id of [...SCORED, ...DEEP]) {
      expect(await redis.hexists(keys.lead(id), IDLE_MARK)).toBe(1);
      expect(await redis.hmget(keys.lead(id), ...names)).toEqual(names.map(() => null));
    }

    const scorer = await watchedArchive();
    const marked = new Map<string, string>();
    for (const id of SCORED) marked.set(id, (await redis.hget(keys.lead(id), IDLE_MARK)) as string);
    await restoreIdleLeads(redis, scorer.archive, keys, marked);
    expect(scorer.watched.sent).toHaveLength(SCORED.length);
    expect(scorer.watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(scorer.watched.mostInFlight()).toBeGreaterThan(1);

    const deep = await watchedArchive();
    // Leads not idle among them (the restored ones, one with no state at all) are left as they are.
    await restoreIfIdle(redis, deep.archive, keys, [...DEEP, ...SCORED.slice(0, 3), "no-such-lead"]);
    expect(deep.watched.sent).toHaveLength(DEEP.length);
    expect(deep.watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(deep.watched.mostInFlight()).toBeGreaterThan(1);

    for (const id of [...SCORED, ...DEEP]) {
      expect(await redis.hexists(keys.lead(id), IDLE_MARK), id).toBe(0);
      expect(await redis.hmget(keys.lead(id), ...names), id).toEqual(before.get(id));
    }
  }, 60_000);
});
