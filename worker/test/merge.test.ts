import type { QueuedEvent } from "@leadscore/contracts";
import { liveKeys, mergeRecords } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  leadOf,
  identifyRequest as merge,
  queued,
  sendMerges,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

const MINUTE = 60_000;

describe("merging an anonymous lead into a known one", () => {
  let stack: TestStack;
  afterEach(async () => stack?.close());

  it("folds both histories into the known lead and removes the anonymous one from every index", async () => {
    stack = await createStack();
    await stack.startWorker({ deepLaneIdleMs: 20 });
    const views = [1, 2, 3].map((n) => queued("anon-1", `v${n}`, "page_view", T0 + n * MINUTE, { path: "/pricing" }));
    await stack.send(views);
    await stack.send([queued("ada", "d1", "demo_request", T0 + 2.5 * MINUTE)]);
    await stack.drained();
    expect((await leadOf(stack, "anon-1"))?.current_score).toBe(15);
    expect((await leadOf(stack, "ada"))?.current_score).toBe(50);

    await sendMerges(stack, [merge("anon-1", "ada")]);
    await stack.send([queued("ada", "f1", "form_submission", T0 + 4 * MINUTE)]);
    await stack.drained();
    // A later event sent with the anonymous id lands on the known lead.
    await stack.send([queued("anon-1", "v4", "page_view", T0 + 5 * MINUTE)]);
    await stack.drained();

    expect(await leadOf(stack, "anon-1")).toBeNull();
    const history = await historyOf(stack, "ada");
    expect(history.map((entry) => entry.event_id)).toEqual(["v1", "v2", "d1", "v3", "f1", "v4"]);
    expect(history.map((entry) => entry.score)).toEqual([5, 10, 60, 65, 85, 90]);
    expect((await leadOf(stack, "ada"))?.current_score).toBe(90);
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      expect(await redis.zscore(keys.byScore, "anon-1")).toBeNull();
      expect(await redis.zscore(keys.byUpdated, "anon-1")).toBeNull();
      expect(await redis.zscore(keys.byLastEvent, "anon-1")).toBeNull();
      expect(await redis.hget(keys.aliases, "anon-1")).toBe("ada");
      expect(await redis.hgetall(keys.mergedFrom("ada"))).toEqual({ "anon-1": "3" });
      // The merge log (the history's merge entry): Ada's score before the merge, and after it, with or without the
      // form the merge raced.
      const [record] = await mergeRecords(redis, keys, "ada");
      expect(record).toMatchObject({ from: "anon-1", into: "ada", events: 3 });
      // Before the form (50 → 65, the anonymous 15 added), after it (70 → 85), or with it: the form arrived while the
      // deep lane held Ada for the merge and was folded in the same commit (50 → 85), the scores either side of it.
      expect([
        [50, 65],
        [70, 85],
        [50, 85],
      ]).toContainEqual([record?.scoreBefore, record?.scoreAfter]);
    } finally {
      redis.disconnect();
    }
  });

  it("scores events for either id sent around the merge exactly once", async () => {
    stack = await createStack();
    await stack.startWorker({ deepLaneIdleMs: 20 });
    const events: QueuedEvent[] = [];
    for (let n = 0; n < 40; n += 1) {
      events.push(queued(n % 2 === 0 ? "anon-2" : "bob", `e${n}`, "page_view", T0 + ((n * 7919) % 40) * MINUTE));
    }
    await stack.send(events.slice(0, 20), 5);
    await sendMerges(stack, [merge("anon-2", "bob")]);
    await stack.send(events.slice(20), 5);
    // A replay of every event: duplicates, counted once.
    await stack.send(events, 7);
    await stack.drained();
    expect(await leadOf(stack, "anon-2")).toBeNull();
    const history = await historyOf(stack, "bob");
    expect(new Set(history.map((entry) => entry.event_id)).size).toBe(40);
    expect(history).toHaveLength(40);
    expect((await leadOf(stack, "bob"))?.current_score).toBe(200);
    expect(await auditAll(stack)).toEqual([]);
  });

  it("sends at most one stage change for the merge, from the known lead's stage before it to its stage after", async () => {
    stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      // Some subscription wants stage changes and merges.
      await redis.set(keys.outbox.wants, "sm");
      await stack.startWorker({ deepLaneIdleMs: 20 });
      // The anonymous lead crosses two thresholds (100, 300) before the known lead's only event.
      await stack.send([1, 2, 3].map((n) => queued("anon-4", `p${n}`, "purchase", T0 + n * MINUTE)));
      await stack.send([queued("dee", "d1", "demo_request", T0 + 10 * MINUTE)]);
      await stack.drained();
      expect((await leadOf(stack, "dee"))?.stage).toBe("cold");
      const before = (await redis.xrange(keys.outbox.stream, "-", "+")).at(-1)?.[0] ?? "0";

      await sendMerges(stack, [merge("anon-4", "dee")]);
      await stack.drained();

      expect((await leadOf(stack, "dee"))?.current_score).toBe(350);
      const after = (await redis.xrange(keys.outbox.stream, `(${before}`, "+")).map(([, fields]) =>
        Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : []))),
      );
      expect(after.filter((message) => message.type === "lead.stage_changed")).toEqual([
        expect.objectContaining({ lead: "dee", from: "cold", to: "hot", score: "350" }),
      ]);
      expect(after.filter((message) => message.type === "lead.merged")).toEqual([
        expect.objectContaining({ lead: "dee", from: "anon-4", score: "350", prev: "50" }),
      ]);
    } finally {
      redis.disconnect();
    }
  });

  it("is laid out again by a rebuild from the recorded merges", async () => {
    stack = await createStack();
    await stack.startWorker({ deepLaneIdleMs: 20 });
    await stack.send([1, 2, 3].map((n) => queued("anon-3", `v${n}`, "page_view", T0 + n * MINUTE)));
    await stack.drained();
    const requested = merge("anon-3", "cy");
    await sendMerges(stack, [requested]);
    await stack.send([queued("cy", "f1", "form_submission", T0 + 2.5 * MINUTE)]);
    await stack.drained();
    const before = await historyOf(stack, "cy");
    expect(before.map((entry) => entry.event_id)).toEqual(["v1", "v2", "f1", "v3"]);
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const { SCORE_CAP: cap, STAGE_THRESHOLDS: thresholds } = stack.config;
      // Under the rebuild lock, as a worker rebuilds: a worker that saw a rebuild no process holds would start its own.
      await withRebuildLock(redis, keys, (lock) =>
        rebuildLiveState({ db: stack.db, redis, keys, cap, thresholds, log: silentLogger, lock }),
      );
      expect(await leadOf(stack, "anon-3")).toBeNull();
      expect((await historyOf(stack, "cy")).map((entry) => [entry.event_id, entry.score])).toEqual(
        before.map((entry) => [entry.event_id, entry.score]),
      );
      expect(await redis.hget(keys.aliases, "anon-3")).toBe("cy");
      expect(await redis.hgetall(keys.mergedFrom("cy"))).toEqual({ "anon-3": "3" });
      // The merge log, dated when the merge was recorded; the scores either side of it are not known to a rebuild.
      expect(await mergeRecords(redis, keys, "cy")).toEqual([
        { from: "anon-3", into: "cy", at: requested.at, events: 3, scoreBefore: null, scoreAfter: null },
      ]);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});
