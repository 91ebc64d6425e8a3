// The worker's idea of an idle queue (queue-idle.ts), against real Bull queues: Bull's lists decide, whatever the
// edge's `queued-events` count says.
import { createQueue, EVENTS_QUEUE, type EventsJob, queuedEventsKey } from "@leadscore/runtime";
import type Queue from "bull";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { queued, T0 } from "../../test-support/worker-stack.ts";
import { createQueueIdle } from "../src/queue-idle.ts";

const undo: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

async function queueOf(label: string) {
  const prefix = uniqueName(label);
  const test = await createTestRedis(prefix);
  undo.push(test.cleanup);
  const queue = createQueue<EventsJob>(EVENTS_QUEUE, { REDIS_URL, REDIS_CLUSTER_NODES: [] }, { prefix });
  undo.push(() => queue.close());
  await queue.isReady();
  return { prefix, redis: test.redis, queue, idle: createQueueIdle(test.redis, prefix) };
}

const job = (id: string): EventsJob => ({ v: 1, events: [queued("idle-lead", id, "page_view", T0)] });

describe("when jobs reach the queue without the edge counting them", () => {
  it("holds the queue busy while they wait, though finished jobs took the count below 0", async () => {
    const { prefix, redis, queue, idle } = await queueOf("idle-uncounted");
    await queue.addBulk([{ data: job("u1") }, { data: job("u2") }]);
    await redis.set(queuedEventsKey(prefix), -500);
    expect(await idle()).toBe(false);
    await queue.empty();
    expect(await idle()).toBe(true);
  });

  it("holds it busy while a job is in hand, paused behind a paused queue, or delayed for a retry", async () => {
    const { queue, idle } = await queueOf("idle-states");
    await queue.pause();
    await queue.add(job("p1"));
    expect(await idle()).toBe(false);
    await queue.empty();
    await queue.resume();
    await queue.add(job("d1"), { delay: 60_000 });
    expect(await idle()).toBe(false);
    await queue.empty();
    await queue.clean(0, "delayed");
    expect(await idle()).toBe(true);
    let release: (() => void) | undefined;
    const inHand = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = new Promise<void>((resolve) => {
      void queue.process(async (_job: Queue.Job<EventsJob>) => {
        resolve();
        await inHand;
      });
    });
    await queue.add(job("a1"));
    await started;
    expect(await idle()).toBe(false);
    release?.();
    await expect.poll(idle, { timeout: 5_000 }).toBe(true);
  });
});

describe("when the edge's count says events wait but no job is left", () => {
  it("finds the queue idle", async () => {
    const { prefix, redis, idle } = await queueOf("idle-drifted");
    await redis.set(queuedEventsKey(prefix), 37);
    expect(await idle()).toBe(true);
  });
});
