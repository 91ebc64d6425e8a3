import { DEFAULT_DEDUPE_BUCKETS } from "@leadscore/contracts";
// The edge marks an event id as seen in Redis before it queues the event. If the edge dies between the two, the
// client never got an answer and sends the event again: that retry must be queued, not answered "duplicate" for an
// event that is nowhere. (The same holds when Redis, rather than the edge, goes away between the two writes.)
import { dedupeSlot, type EventsJob, readDedupeMark } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { type RedisProxy, startRedisProxy } from "./redis-proxy.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";

const EVENT = { event_id: "in-the-window", lead_id: "window-lead", event_type: "purchase" };

describe("when the edge dies after claiming an event id and before queueing the event", () => {
  let stack: FaultStack;
  let proxy: RedisProxy;
  beforeAll(async () => {
    stack = await startFaultStack();
    proxy = await startRedisProxy(Number(new URL(stack.redisUrl).port));
  }, 90_000);
  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
  }, 60_000);

  /** Copies of the event in the queue's waiting jobs. */
  const queuedCopies = async () => {
    const jobs = await stack.queue.getWaiting(0, -1);
    return jobs.flatMap((job) => (job.data as EventsJob).events).filter((e) => e.event_id === EVENT.event_id).length;
  };

  const send = (base: string) =>
    fetch(`${base}/api/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.writeKey}` },
      body: JSON.stringify(EVENT),
    });

  it("queues the client's retry of the event", async () => {
    const first = await stack.startEdge({ REDIS_URL: proxy.url });
    // Bull's writes to the queue stop reaching Redis; the de-duplication key still does.
    proxy.arm(`${stack.prefix}:events:`);
    const unanswered = send(first).then(
      (response) => response.status,
      () => 0,
    );
    const slot = dedupeSlot(stack.prefix, EVENT.event_id, DEFAULT_DEDUPE_BUCKETS);
    await eventually(async () => (await readDedupeMark(stack.redis, slot)).state !== "absent", 10_000);
    await eventually(async () => proxy.held() > 0, 10_000);
    // The precondition: the id is claimed but pending ("p"), not confirmed, and nothing is queued.
    expect((await readDedupeMark(stack.redis, slot)).state).toBe("pending");
    await stack.killEdge();
    expect(await unanswered).toBe(0);
    await proxy.close();
    expect(await queuedCopies()).toBe(0);

    const second = await stack.startEdge();
    // Retried as a client does: while the claim is pending the edge answers 503; the first other answer is the verdict.
    const statuses: number[] = [];
    let verdict: Response | undefined;
    await eventually(async () => {
      const response = await send(second);
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
