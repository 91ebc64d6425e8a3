// The re-score log kept in MongoDB: each record the re-score's commit writes in a lead's live log is inserted into
// `rescore_log` once the commit returned, and a run that stopped between the two (a crash, a store away) leaves it in
// Redis only, so the run that takes the job up again stores it — a rebuild lays the log out from those documents.
import { COLLECTIONS, type RescoreLogDocument } from "@leadscore/contracts";
import { liveKeys, rescoreLogDocument, rescoreRecords } from "@leadscore/live";
import { publishRuleSet, readRuleSet } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import {
  createStack,
  queued,
  queuedRescore,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { createRescorer, unstoredKey } from "../src/rescore.ts";

/** A worker's stack with "mover" (3 demo requests) and "still" (a page view) scored; the re-scores are the test's. */
async function withScored(body: (stack: TestStack, redis: Redis) => Promise<void>) {
  const stack = await createStack();
  const redis = new Redis(REDIS_URL);
  try {
    await stack.startWorker({ rescorePollMs: 600_000 });
    await stack.send([
      ...[0, 1, 2].map((n) => queued("mover", `mover-demo-${n}`, "demo_request", T0 + n * 60_000)),
      queued("still", "still-view", "page_view", T0),
    ]);
    await stack.drained();
    await body(stack, redis);
  } finally {
    redis.disconnect();
    await stack.close();
  }
}

it("stores the records a run left in Redis only when the job is run again", async () => {
  await withScored(async (stack, redis) => {
    const current = await readRuleSet(stack.db);
    const rules = current.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
    const store = { db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX };
    const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
    const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const generation = (await redis.get(keys.gen)) as string;
    const rescorer = createRescorer({
      ...rebuildOptionsOf(stack, redis),
      prefix: stack.config.REDIS_PREFIX,
      generation: () => generation,
      encodeUpdates: () => new Map(),
    });
    const job = queuedRescore("logged", version);
    const run = () => rescorer.run(job, new AbortController().signal, async () => false);
    const log = stack.db.collection<RescoreLogDocument>(COLLECTIONS.rescoreLog);

    await run();
    const [record] = await rescoreRecords(redis, keys, "mover");
    expect(record).toMatchObject({
      version,
      scoreBefore: 150,
      scoreAfter: 300,
      stageBefore: "warm",
      stageAfter: "hot",
    });
    const stored = await log.find({}).toArray();
    expect(stored).toEqual([rescoreLogDocument("mover", record as NonNullable<typeof record>)]);

    // The run stopped after its commit, before its insert: the job is run again, every lead scored by the version.
    await log.deleteMany({});
    await run();
    expect(await log.find({}).toArray()).toEqual(stored);
  });
}, 120_000);

it("stores a stopped run's records when a newer publish supersedes its job before it runs again", async () => {
  await withScored(async (stack, redis) => {
    const prefix = stack.config.REDIS_PREFIX;
    const store = { db: stack.db, redis, redisPrefix: prefix };
    const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
    const publishDemoAt = async (points: number) => {
      const current = await readRuleSet(stack.db);
      const rules = current.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points } : rule));
      return publishRuleSet(store, { rules, groups: current.groups }, options);
    };
    const keys = liveKeys(prefix);
    const generation = (await redis.get(keys.gen)) as string;
    const rescorer = createRescorer({
      ...rebuildOptionsOf(stack, redis),
      prefix,
      generation: () => generation,
      encodeUpdates: () => new Map(),
    });
    const run = (version: number) =>
      rescorer.run(queuedRescore(`logged-${version}`, version), new AbortController().signal, async () => false);
    const log = stack.db.collection<RescoreLogDocument>(COLLECTIONS.rescoreLog);

    const first = await publishDemoAt(100);
    await run(first);
    const [record] = await rescoreRecords(redis, keys, "mover");
    // The run of `first` stopped after its commit, before its insert, and never ran again: its record is in Redis
    // only, and its version still among those whose runs began and never stored every record.
    await log.deleteMany({});
    await redis.sadd(unstoredKey(prefix), first);

    const second = await publishDemoAt(200);
    await run(second);
    const stored = await log.find({}).sort({ version: 1 }).toArray();
    expect(stored.map((doc) => [doc.lead_id, doc.version])).toEqual([
      ["mover", first],
      ["mover", second],
    ]);
    expect(stored[0]).toEqual(rescoreLogDocument("mover", record as NonNullable<typeof record>));
    // Every record stored: no version is left for the next run to look for.
    expect(await redis.smembers(unstoredKey(prefix))).toEqual([]);
  });
}, 120_000);
