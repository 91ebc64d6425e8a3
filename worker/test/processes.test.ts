import { createLiveReader } from "@leadscore/live";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { NODE_TS, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { auditAll, createStack, type TestStack } from "../../test-support/worker-stack.ts";
import { workload } from "./random-events.ts";

let stack: TestStack | undefined;
let processes: RunningProcess[] = [];

afterEach(async () => {
  await Promise.allSettled(processes.map((worker) => worker.stop("SIGKILL")));
  processes = [];
  await stack?.close();
  stack = undefined;
});

async function startWorkerProcess(target: TestStack): Promise<RunningProcess> {
  const worker = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/main.ts"], {
    ...target.env,
    LOG_LEVEL: "info",
  });
  processes.push(worker);
  await worker.waitFor(/worker ready/, 60_000);
  return worker;
}

/** Events folded into the live state, over every lead. */
async function historyCount(target: TestStack): Promise<number> {
  const redis = new Redis(REDIS_URL);
  try {
    const reader = createLiveReader({
      redis,
      redisPrefix: target.config.REDIS_PREFIX,
      cap: target.config.SCORE_CAP,
      thresholds: target.config.STAGE_THRESHOLDS,
    });
    return await reader.foldedEvents();
  } finally {
    redis.disconnect();
  }
}

describe("when two worker processes share the queue", () => {
  it("scores a shuffled, duplicated workload exactly as the pure fold does", async () => {
    stack = await createStack();
    await Promise.all([startWorkerProcess(stack), startWorkerProcess(stack)]);
    const { events, arrival } = workload(21, 20, 15, "procs");
    await stack.send(arrival, 15);
    await stack.drained(120_000);
    expect(await historyCount(stack)).toBe(events.length);
    expect(await auditAll(stack)).toEqual([]);
    const exits = await Promise.all(processes.map((worker) => worker.stop("SIGTERM")));
    expect(exits).toEqual([0, 0]);
  }, 180_000);
});

describe("when a worker process is killed mid-stream and another starts", () => {
  it("loses nothing and counts nothing twice", async () => {
    stack = await createStack({ env: { WORKER_CONCURRENCY: "2" } });
    const first = await startWorkerProcess(stack);
    const { events, arrival } = workload(33, 25, 16, "kill");
    await stack.send(arrival, 10);
    // Kill it once it is well into the stream, with jobs in hand.
    await eventually(async () => (await historyCount(stack as TestStack)) >= events.length / 4, 120_000);
    await first.stop("SIGKILL");
    const counts = await stack.queue.getJobCounts();
    expect(counts.waiting + counts.active).toBeGreaterThan(0);

    await startWorkerProcess(stack);
    await stack.drained(120_000);
    const failed = await stack.queue.getFailed();
    expect(failed.map((job) => job.failedReason)).toEqual([]);
    expect(await historyCount(stack)).toBe(events.length);
    expect(await auditAll(stack)).toEqual([]);
  }, 240_000);
});

describe("when a worker process gets SIGTERM with jobs in hand", () => {
  it("finishes them before it exits", async () => {
    stack = await createStack({ env: { WORKER_CONCURRENCY: "4" } });
    const worker = await startWorkerProcess(stack);
    const { arrival } = workload(45, 20, 10, "term");
    await stack.send(arrival, 5);
    await eventually(async () => ((await stack?.queue.getJobCounts())?.active ?? 0) > 0, 30_000);
    expect(await worker.stop("SIGTERM")).toBe(0);
    // Nothing is left claimed by the stopped process: its jobs completed, the rest still wait.
    const counts = await stack.queue.getJobCounts();
    expect(counts.active).toBe(0);
    expect(counts.failed).toBe(0);
    expect(counts.completed).toBeGreaterThan(0);
    expect(await auditAll(stack)).toEqual([]);
  }, 120_000);
});
