// The webhook outbox over lead partitions: each partition's commits append to its own stream, in its slot; the
// dispatcher fans every stream out past a per-partition mark, exactly once.
import { encodeOutboxMessage, type OutboxMessage, outboxKeys } from "@leadscore/live";
import { partitionPrefixes } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { FAN_OUT_PARTITION } from "../src/scripts.ts";
import { createWebhookStore } from "../src/store.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const message = (lead: string): OutboxMessage => ({
  type: "lead.stage_changed",
  lead,
  from: "cold",
  to: "warm",
  score: "120",
  prev: "90",
  event: "e1",
  etype: "demo_request",
  at: "1000",
  rank: "2",
});

async function partitioned() {
  const prefix = uniqueName("webhook-partitions");
  const prefixes = partitionPrefixes(prefix, 3);
  const tests = await Promise.all([prefix, ...prefixes].map((each) => createTestRedis(each)));
  for (const test of tests) cleanups.push(test.cleanup);
  const redis = (tests[0] as (typeof tests)[number]).redis;
  const store = createWebhookStore({ redis, redisPrefix: prefix, partitions: 3 });
  const outboxes = prefixes.map((each) => outboxKeys(each));
  return { redis, store, outboxes, prefix };
}

describe("when leads are spread over partitions", () => {
  it("copies what the subscriptions want into every partition, for its commits to read", async () => {
    const { redis, store, outboxes } = await partitioned();
    const { id } = await store.create({ url: "https://crm.example.com/", events: ["lead.stage_changed"] });
    expect(await Promise.all(outboxes.map((outbox) => redis.get(outbox.wants)))).toEqual(["s", "s", "s"]);
    await store.remove(id);
    expect(await Promise.all(outboxes.map((outbox) => redis.exists(outbox.wants)))).toEqual([0, 0, 0]);
  });

  it("fans every partition's messages out once, and empties their streams", async () => {
    const { redis, store, outboxes } = await partitioned();
    const { id } = await store.create({ url: "https://crm.example.com/", events: ["lead.stage_changed"] });
    const [first, second] = outboxes as [(typeof outboxes)[number], (typeof outboxes)[number]];
    await redis.xadd(first.stream, "*", ...encodeOutboxMessage(message("ada")));
    await redis.xadd(second.stream, "*", ...encodeOutboxMessage(message("bob")));
    await redis.xadd(second.stream, "*", ...encodeOutboxMessage(message("bob")));
    const bounds = { maxPending: 0, logSize: 100 };
    expect(await store.fanOut(100, bounds)).toEqual({ taken: 3, dropped: 0 });
    expect(await store.fanOut(100, bounds)).toEqual({ taken: 0, dropped: 0 });
    expect(await Promise.all(outboxes.map((outbox) => redis.xlen(outbox.stream)))).toEqual([0, 0, 0]);
    expect(await store.backlog()).toBe(3);
    const deliveries = (await redis.hvals(`${store.keys.subscription(id)}:d`)).map(
      (raw) => JSON.parse(raw) as { msg: string; lead: string },
    );
    expect(deliveries.map((delivery) => delivery.lead).sort()).toEqual(["ada", "bob", "bob"]);
    // Two partitions' streams may mint the same entry id: the message ids say which partition each came from.
    expect(new Set(deliveries.map((delivery) => delivery.msg)).size).toBe(3);
  });

  it("skips entries passed again after the mark moved past them (a dispatcher that died before its trim)", async () => {
    const { redis, store, outboxes } = await partitioned();
    const { id } = await store.create({ url: "https://crm.example.com/", events: ["lead.stage_changed"] });
    const outbox = outboxes[1] as (typeof outboxes)[number];
    const entry = await redis.xadd(outbox.stream, "*", ...encodeOutboxMessage(message("cy")));
    const fields = encodeOutboxMessage(message("cy"));
    const run = () =>
      FAN_OUT_PARTITION.run(
        redis,
        [store.keys.subscriptions, store.keys.seq, store.marks],
        [2_000, store.keys.subscriptionPrefix, 0, 100, 1, entry as string, JSON.stringify(fields)],
      );
    expect(await run()).toEqual([1, 0]);
    expect(await run()).toEqual([0, 0]);
    expect(await redis.hlen(`${store.keys.subscription(id)}:d`)).toBe(1);
  });
});
