// Issue #27: a done mark must never outlive a commit a SIGKILL of Redis lost. The worker's connection resends the
// commands that had no reply when it dropped (ioredis `autoResendUnfulfilledCommands`), so a mark (or a partition's
// commit) sent just before the kill runs on the Redis that came back, which may have lost the commits before it.
// The restarted Redis here loads the snapshot taken before the commits: a deterministic stand-in for an append-only
// file that lost its last second (what a SIGKILL under `appendfsync everysec` may lose).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { liveKeys } from "@leadscore/live";
import { createRedis, RECONNECT } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDb, uniqueName } from "../../test-support/index.ts";
import { type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { createBatchJournal } from "../src/journal.ts";

/** This suite's private Redis (one at a time: the suite's tests run in sequence). */
const PORT = Number(process.env.RESEND_REDIS_PORT ?? 7502);
const URL_ = `redis://127.0.0.1:${PORT}`;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function startRedis(dir: string): Promise<RunningProcess> {
  const server = startProcess("redis-server", [
    "--bind",
    "127.0.0.1",
    "--port",
    String(PORT),
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  await server.waitFor(/Ready to accept connections/, 30_000);
  return server;
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "leadscore-resend-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  let server = await startRedis(dir);
  cleanups.push(() => server.stop("SIGKILL"));
  // As the worker builds its connection (worker/src/worker.ts).
  const redis = createRedis({ REDIS_URL: URL_, REDIS_CLUSTER_NODES: [] }, { lazyConnect: true, ...RECONNECT });
  redis.on("error", () => undefined);
  await redis.connect();
  cleanups.push(async () => redis.disconnect());
  const testDb = await createTestDb(uniqueName("resend"));
  cleanups.push(testDb.drop);
  const prefix = uniqueName("rs");
  const keys = liveKeys(prefix);
  const journal = createBatchJournal({ db: testDb.db, redis, keys: keys.journal });
  /** Stops Redis, runs `send` (its commands reach the socket but get no reply), then kills Redis and starts it again
   * from the last snapshot. */
  const killDuring = async <T>(send: () => Promise<T>): Promise<PromiseSettledResult<T>> => {
    server.child.kill("SIGSTOP");
    const sent = send();
    const settled = sent.then(
      (value): PromiseSettledResult<T> => ({ status: "fulfilled", value }),
      (reason): PromiseSettledResult<T> => ({ status: "rejected", reason }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.stop("SIGKILL");
    server = await startRedis(dir);
    return settled;
  };
  return { redis, keys, prefix, journal, killDuring };
}

const commit = (redis: Redis, key: string) => redis.hset(key, "s", "10");

describe("journal done marks across a SIGKILL of Redis (#27)", () => {
  it("a mark sent before the kill and resent to the restarted Redis is refused when its commit was lost", async () => {
    const { redis, keys, prefix, journal, killDuring } = await setup();
    const id = await journal.open([{ event_id: "e1", lead_id: "l1" }]);
    await redis.save();
    const lead = `${prefix}:live:lead:l1`;
    await commit(redis, lead);
    const marked = await killDuring(() => journal.done(id));

    expect(await redis.exists(lead)).toBe(0); // the commit was lost with the kill
    expect(marked.status).toBe("rejected"); // the batch's try fails: its job retries
    expect(await redis.zscore(keys.journal.done, id)).toBeNull();
  });

  it("a partition's commit resent to the restarted Redis does not let the mark outlive the other's lost commit", async () => {
    const { redis, keys, prefix, journal, killDuring } = await setup();
    const id = await journal.open([
      { event_id: "e1", lead_id: "l1" },
      { event_id: "e2", lead_id: "l2" },
    ]);
    await redis.save();
    const first = `${prefix}:live:lead:l1`;
    const second = `${prefix}:live:lead:l2`;
    await commit(redis, first);
    const resent = await killDuring(() => commit(redis, second));
    expect(resent.status).toBe("fulfilled"); // ran on the Redis that came back
    const marked = await journal.done(id).then(
      () => "marked",
      () => "refused",
    );

    expect(await redis.exists(first)).toBe(0);
    expect(await redis.exists(second)).toBe(1);
    expect(marked).toBe("refused");
    expect(await redis.zscore(keys.journal.done, id)).toBeNull();
  });

  it("a batch whose commits and mark all ran on one Redis is marked", async () => {
    const { redis, keys, prefix, journal } = await setup();
    const id = await journal.open([{ event_id: "e1", lead_id: "l1" }]);
    await commit(redis, `${prefix}:live:lead:l1`);
    await journal.done(id);
    expect(await redis.zscore(keys.journal.done, id)).not.toBeNull();
  });
});
