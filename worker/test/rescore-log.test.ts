// The re-score log kept in MongoDB: each record the re-score's commit writes in a lead's live log is inserted into
// `rescore_log` once the commit returned, and a run that stopped between the two (a crash, a store away) leaves it in
// Redis only, so the run that takes the job up again stores it — a rebuild lays the log out from those documents.
import { COLLECTIONS, type RescoreLogDocument } from "@leadscore/contracts";
import { liveKeys, rescoreLogDocument, rescoreRecords } from "@leadscore/live";
import { publishRuleSet, readRuleSet } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, queuedRescore, rebuildOptionsOf, T0 } from "../../test-support/worker-stack.ts";
import { createRescorer } from "../src/rescore.ts";

it("stores the records a run left in Redis only when the job is run again", async () => {
  const stack = await createStack();
  const redis = new Redis(REDIS_URL);
  try {
    // The worker only scores the events: the re-score below is run by the test.
    await stack.startWorker({ rescorePollMs: 600_000 });
    await stack.send([
      ...[0, 1, 2].map((n) => queued("mover", `mover-demo-${n}`, "demo_request", T0 + n * 60_000)),
      queued("still", "still-view", "page_view", T0),
    ]);
    await stack.drained();
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
  } finally {
    redis.disconnect();
    await stack.close();
  }
}, 120_000);
