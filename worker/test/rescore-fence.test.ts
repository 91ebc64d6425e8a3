// Events that arrive during or after a retroactive publish are scored under the version published, whatever the
// timing: a worker that never heard of the version (its rules message lost, its periodic reload far off) matches
// the next batch under it all the same, and a re-score reads no lead while a batch matched before the publish is
// still on its way to its commit.
import type { QueuedEvent } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { publishRuleSet, readRescore, readRuleSet, startRescore } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  leadOf,
  queued,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { createBatchJournal } from "../src/journal.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";
import { createRescorer } from "../src/rescore.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { createRulesFence } from "../src/rules-fence.ts";
import { createScorer } from "../src/scorer.ts";

/** Lead i of 10: i % 4 demo requests and i % 7 page views. */
function history(): QueuedEvent[] {
  const list: QueuedEvent[] = [];
  for (let i = 0; i < 10; i++) {
    const lead = `lead-${String(i).padStart(3, "0")}`;
    const types = [
      ...Array.from({ length: i % 4 }, () => "demo_request"),
      ...Array.from({ length: i % 7 }, () => "page_view"),
    ];
    types.forEach((type, n) => {
      list.push(queued(lead, `${lead}-${n}`, type, T0 + n * 60_000));
    });
  }
  return list;
}

/** Publishes demo_request at 100 retroactively without telling any worker, and queues its re-score. */
async function publishUnannounced(stack: TestStack, redis: Redis) {
  const current = await readRuleSet(stack.db);
  const rules = current.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
  const store = { db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX };
  const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
  const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
  const job = await startRescore(redis, stack.config.REDIS_PREFIX, { version, webhooks: "suppress" }, Date.now());
  return { version, job };
}

/** Waits until the worker has run the re-score to its end. */
async function rescored(stack: TestStack, redis: Redis, id: string) {
  await eventually(async () => (await readRescore(redis, stack.config.REDIS_PREFIX, id))?.state === "done", 60_000);
}

describe("when a batch reaches a worker whose rules never heard of the version published", () => {
  it("scores it under the version published all the same", async () => {
    const stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      // The periodic reload is far off and the publish below is never announced on the rules channel.
      await stack.startWorker({ rulesReloadMs: 600_000, rescorePollMs: 50 });
      await stack.send(history());
      await stack.drained();
      const { version, job } = await publishUnannounced(stack, redis);
      await rescored(stack, redis, job.id);

      await stack.send([
        queued("lead-003", "after-demo", "demo_request", T0 + 30_000),
        queued("fresh", "fresh-demo", "demo_request", T0),
      ]);
      await stack.drained();
      for (const lead of ["lead-003", "fresh"]) {
        for (const entry of await historyOf(stack, lead)) expect(entry.rules_version, entry.event_id).toBe(version);
      }
      // lead-003: 3 demo requests and 3 page views, then the one that arrived after the publish.
      expect((await leadOf(stack, "lead-003"))?.current_score).toBe(4 * 100 + 3 * 5);
      expect((await leadOf(stack, "fresh"))?.current_score).toBe(100);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  }, 120_000);
});

describe("when a batch matched before the publish commits after its re-score began", () => {
  it("holds the re-score back until the batch committed, then re-matches its event under the version", async () => {
    const stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      // The worker only scores the history: the re-score below is run by the test.
      await stack.startWorker({ rescorePollMs: 600_000 });
      await stack.send(history());
      await stack.drained();
      const prefix = stack.config.REDIS_PREFIX;
      const generation = (await redis.get(liveKeys(prefix).gen)) as string;
      const before = ruleMatcher(await readRuleSet(stack.db));
      const writer = {
        ...rebuildOptionsOf(stack, redis),
        generation: () => generation,
        encodeUpdates: () => new Map(),
      };
      const rescorer = createRescorer({ ...writer, prefix });
      let running: Promise<unknown> | undefined;
      let version = 0;
      const scorer = createScorer({
        ...writer,
        rules: () => before,
        fence: createRulesFence({ redis, prefix, rules: { current: () => before, reload: async () => undefined } }),
        beforeCommit: async () => {
          if (running !== undefined) return;
          // The batch's event was matched and stored under the old version; the publish lands before its commit.
          const published = await publishUnannounced(stack, redis);
          version = published.version;
          running = rescorer.run(published.job, new AbortController().signal, async () => false);
          // Long enough for a re-score that does not wait for this batch to read and commit every lead.
          await eventually(async () => rescorer.stats.leadsTotal > 0 && rescorer.stats.leadsDone >= 9, 3_000).catch(
            () => undefined,
          );
        },
      });
      await scorer.scoreBatch([queued("lead-003", "in-flight-demo", "demo_request", T0 + 30_000)]);
      await running;
      const entries = await historyOf(stack, "lead-003");
      expect(entries.filter((entry) => entry.event_id === "in-flight-demo")).toHaveLength(1);
      for (const entry of entries) expect(entry.rules_version, entry.event_id).toBe(version);
      expect((await leadOf(stack, "lead-003"))?.current_score).toBe(4 * 100 + 3 * 5);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  }, 120_000);
});

/**
 * A try of a job that matched and stored its events under the old version (journaled first, as a worker's batch is),
 * then died before its commit; then a retroactive publish, and its re-score run to its end by the worker.
 */
async function crashThenRescore(stack: TestStack, redis: Redis) {
  const prefix = stack.config.REDIS_PREFIX;
  const before = ruleMatcher(await readRuleSet(stack.db));
  const writer = {
    ...rebuildOptionsOf(stack, redis),
    generation: () => "unused",
    encodeUpdates: () => new Map(),
  };
  const crashed = [
    queued("lead-003", "crashed-demo", "demo_request", T0 + 30_000),
    queued("crash-new", "crash-new-demo", "demo_request", T0),
  ];
  const dying = createScorer({
    ...writer,
    rules: () => before,
    journal: createBatchJournal({ db: stack.db, redis, keys: liveKeys(prefix).journal }),
    fence: createRulesFence({ redis, prefix, rules: { current: () => before, reload: async () => undefined } }),
    beforeCommit: async () => {
      throw new Error("died before its commit");
    },
  });
  await expect(dying.scoreBatch(crashed)).rejects.toThrow("died before its commit");
  const { version, job } = await publishUnannounced(stack, redis);
  await rescored(stack, redis, job.id);
  return { version, crashed };
}

/** lead-003 and crash-new as the version folds them with the crashed batch's events, and the audit clean. */
async function expectCrashedUnderVersion(stack: TestStack, version: number) {
  for (const lead of ["lead-003", "crash-new"]) {
    for (const entry of await historyOf(stack, lead)) expect(entry.rules_version, entry.event_id).toBe(version);
  }
  // lead-003: 3 demo requests and 3 page views, then the crashed batch's demo request.
  expect((await leadOf(stack, "lead-003"))?.current_score).toBe(4 * 100 + 3 * 5);
  expect((await leadOf(stack, "crash-new"))?.current_score).toBe(100);
  expect(await auditAll(stack)).toEqual([]);
}

const rebuild = (stack: TestStack, redis: Redis) =>
  withRebuildLock(redis, liveKeys(stack.config.REDIS_PREFIX), (lock) =>
    rebuildLiveState({ ...rebuildOptionsOf(stack, redis), lock }),
  );

/** A worker's stack with the history scored, a crashed batch and the re-score after it (`crashThenRescore`). */
async function afterCrashAndRescore(
  body: (stack: TestStack, redis: Redis, crash: Awaited<ReturnType<typeof crashThenRescore>>) => Promise<void>,
) {
  const stack = await createStack();
  const redis = new Redis(REDIS_URL);
  try {
    await stack.startWorker({ rescorePollMs: 50, deepLaneIdleMs: 20 });
    await stack.send(history());
    await stack.drained();
    await body(stack, redis, await crashThenRescore(stack, redis));
  } finally {
    redis.disconnect();
    await stack.close();
  }
}

describe("when a batch stored its events under the old version and died before its commit", () => {
  it(
    "folds them under the version published once its job is tried again after the re-score, as a rebuild does",
    () =>
      afterCrashAndRescore(async (stack, redis, { version, crashed }) => {
        // The job's next try, after the re-score ended.
        await stack.send(crashed);
        await stack.drained();
        await expectCrashedUnderVersion(stack, version);
        await rebuild(stack, redis);
        await expectCrashedUnderVersion(stack, version);
      }),
    120_000,
  );

  it(
    "folds them under the version when a rebuild runs before the job is tried again",
    () =>
      afterCrashAndRescore(async (stack, redis, { version, crashed }) => {
        await rebuild(stack, redis);
        await expectCrashedUnderVersion(stack, version);
        // The job's next try, after the rebuild: its events are folded already, once.
        await stack.send(crashed);
        await stack.drained();
        await expectCrashedUnderVersion(stack, version);
      }),
    120_000,
  );

  it(
    "folds them under the version when the job is never tried again",
    () =>
      afterCrashAndRescore(async (stack, _redis, { version }) => {
        // The re-score handed their leads to the deep lane, which folds them from their stored events.
        const scoreOf = async (lead: string) => (await leadOf(stack, lead))?.current_score;
        await eventually(
          async () => (await scoreOf("crash-new")) === 100 && (await scoreOf("lead-003")) === 415,
          30_000,
        );
        await stack.drained();
        await expectCrashedUnderVersion(stack, version);
      }),
    120_000,
  );
});
