import { DEFAULT_DEDUPE_BUCKETS } from "@leadscore/contracts";
// The edge marks an event id as seen in Redis and queues the event. If the edge dies before both are done, the client
// never got an answer and sends the event again: that retry must be queued, not answered "duplicate" for an event
// that is nowhere. (The same holds when Redis, rather than the edge, goes away meanwhile.) With one lead partition
// both are one script call, so there is no "between"; with several, the id is claimed (pending) in its bucket's
// partition, then the event queued in its lead's partition, then the claim confirmed.
import {
  dedupeSlot,
  EVENTS_QUEUE,
  type EventsJob,
  leadPartition,
  partitionPrefixes,
  readDedupeMark,
} from "@leadscore/runtime";
import Queue from "bull";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { type RedisProxy, startRedisProxy } from "./redis-proxy.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";

const EVENT = { event_id: "in-the-window", lead_id: "window-lead", event_type: "purchase" };

const send = (base: string, writeKey: string) =>
  fetch(`${base}/api/events`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${writeKey}` },
    body: JSON.stringify(EVENT),
  });

describe.each([
  { partitions: 1, held: "its one call", mark: "absent" },
  { partitions: 2, held: "the event's job, after claiming its id", mark: "pending" },
])("when the edge dies with $held held on the way to Redis ($partitions lead partitions)", ({ partitions, mark }) => {
  let stack: FaultStack;
  let proxy: RedisProxy;
  let queue: Queue.Queue;
  let prefixes: readonly string[];
  beforeAll(async () => {
    stack = await startFaultStack();
    proxy = await startRedisProxy(Number(new URL(stack.redisUrl).port));
    prefixes = partitionPrefixes(stack.prefix, partitions);
    const prefix = prefixes[leadPartition(EVENT.lead_id, partitions)] as string;
    queue = partitions === 1 ? stack.queue : new Queue(EVENTS_QUEUE, stack.redisUrl, { prefix });
  }, 90_000);
  afterAll(async () => {
    if (queue && queue !== stack?.queue) await queue.close();
    await proxy?.close();
    await stack?.stop();
  }, 60_000);

  /** Copies of the event in its partition queue's waiting jobs. */
  const queuedCopies = async () => {
    const jobs = await queue.getWaiting(0, -1);
    return jobs.flatMap((job) => (job.data as EventsJob).events).filter((e) => e.event_id === EVENT.event_id).length;
  };

  it("queues the client's retry of the event", async () => {
    const env = { LEAD_PARTITIONS: String(partitions) };
    const first = await stack.startEdge({ ...env, REDIS_URL: proxy.url });
    // Writes to the event's queue stop reaching Redis; with partitions, the claim in its bucket's partition still does.
    proxy.arm(`${prefixes[leadPartition(EVENT.lead_id, partitions)]}:events:`);
    const unanswered = send(first, stack.writeKey).then(
      (response) => response.status,
      () => 0,
    );
    const slot = dedupeSlot(partitions === 1 ? stack.prefix : prefixes, EVENT.event_id, DEFAULT_DEDUPE_BUCKETS);
    await eventually(async () => proxy.held() > 0, 10_000);
    // The precondition: one partition, nothing is written; several, the id is claimed but pending, not confirmed.
    if (mark === "pending") await eventually(async () => (await readDedupeMark(stack.redis, slot)).state !== "absent");
    expect((await readDedupeMark(stack.redis, slot)).state).toBe(mark);
    await stack.killEdge();
    expect(await unanswered).toBe(0);
    await proxy.close();
    expect(await queuedCopies()).toBe(0);

    const second = await stack.startEdge(env);
    // Retried as a client does: while the claim is pending the edge answers 503; the first other answer is the verdict.
    const statuses: number[] = [];
    let verdict: Response | undefined;
    await eventually(async () => {
      const response = await send(second, stack.writeKey);
      statuses.push(response.status);
      if (response.status === 503) return false;
      verdict = response;
      return true;
    }, 30_000);
    expect(statuses.slice(0, -1).every((status) => status === 503)).toBe(true);
    expect(verdict?.status).toBe(202);
    expect(await verdict?.json()).toEqual({ success: true, event_id: EVENT.event_id, duplicate: false });
    expect(await queuedCopies()).toBe(1);
    expect((await readDedupeMark(stack.redis, slot)).state).toBe("seen");
  }, 120_000);
});
