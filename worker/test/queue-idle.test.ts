// The worker's idea of an idle queue (queue-idle.ts), against real Bull queues: Bull's lists decide, whatever the
// edge's `queued-events` count says.
import { createQueue, EVENTS_QUEUE, type EventsJob, queuedEventsKey } from "@leadscore/runtime";
import type Queue from "bull";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { queued, T0 } from "../../test-support/worker-stack.ts";
import { createQueueBacklogged, createQueueIdle } from "../src/queue-idle.ts";

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

/** Takes the queue's jobs in hand and holds each until `release`. */
function holdInHand(queue: Queue.Queue<EventsJob>) {
  let release: () => void = () => undefined;
  const inHand = new Promise<void>((resolve) => {
    release = resolve;
  });
  const started = new Promise<void>((resolve) => {
    void queue.process(async (_job: Queue.Job<EventsJob>) => {
      resolve();
      await inHand;
    });
  });
  return { release: () => release(), started };
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
    const { release, started } = holdInHand(queue);
    await queue.add(job("a1"));
    await started;
    expect(await idle()).toBe(false);
    release();
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

describe("when a re-score asks whether events wait beyond what live traffic needs", () => {
  it("answers yes only for a job waiting longer than the time given, not for one in hand, delayed or paused", async () => {
    const { prefix, redis, queue } = await queueOf("backlog");
    const other = await queueOf("backlog-other");
    let clock = Date.now();
    const backlogged = createQueueBacklogged(redis, [other.prefix, prefix], 250, () => clock);
    expect(await backlogged()).toBe(false);
    await queue.add(job("w1"));
    await queue.add(job("w2"));
    // Just added: live traffic's own.
    expect(await backlogged()).toBe(false);
    clock += 1_000;
    expect(await backlogged()).toBe(true);
    // Both gone: none.
    await queue.empty();
    expect(await backlogged()).toBe(false);
    // Delayed for a retry, or behind a paused queue: nothing a yield would help.
    await queue.add(job("d1"), { delay: 60_000 });
    await queue.pause();
    await queue.add(job("p1"));
    clock += 120_000;
    expect(await backlogged()).toBe(false);
    await queue.empty();
    await queue.resume();
    // In hand, however long: live traffic keeps a job in hand nearly all the time.
    await queue.clean(0, "delayed");
    const { release, started } = holdInHand(queue);
    await queue.add(job("a1"));
    await started;
    clock += 120_000;
    expect(await backlogged()).toBe(false);
    // Another queue of the re-score's with one waiting long: a backlog.
    await other.queue.add(job("o1"));
    clock += 1_000;
    expect(await backlogged()).toBe(true);
    release();
  });
});
