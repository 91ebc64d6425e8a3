import { LockLostError, type Logger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  queued,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { ensureLiveState, withRebuildLock } from "../src/rebuild.ts";
import { rebuildInChild } from "../src/rebuild-child.ts";

let stack: TestStack | undefined;
let redis: Redis | undefined;

afterEach(async () => {
  redis?.disconnect();
  redis = undefined;
  await stack?.close();
  stack = undefined;
});

/** A stack whose worker scored `events` events over 4 leads (one of them with history pages), then stopped. */
async function scored(events: number, env: Record<string, string> = {}): Promise<TestStack> {
  const current = await createStack({ env });
  await current.startWorker();
  const types = ["page_view", "email_open", "purchase"];
  await current.send(
    Array.from({ length: events }, (_, i) => queued(`lead-${i % 4}`, `e${i}`, types[i % 3] as string, T0 + i * 1_000)),
  );
  await current.drained();
  return current;
}

function recording(): Logger & { lines: { message: string; fields?: Record<string, unknown> }[] } {
  const lines: { message: string; fields?: Record<string, unknown> }[] = [];
  const add = (message: string, fields?: Record<string, unknown>) => lines.push({ message, fields });
  return { lines, debug: add, info: add, warn: add, error: add };
}

describe("a full rebuild the worker decides on", () => {
  it("runs in a child process, its progress and log lines coming back, and leaves the live state exact", async () => {
    stack = await scored(600);
    await Promise.all(stack.workers.map((worker) => worker.close()));
    redis = new Redis(REDIS_URL);
    const options = rebuildOptionsOf(stack, redis);
    const history = await historyOf(stack, "lead-0");
    await redis.del(options.keys.gen, options.keys.byScore, options.keys.lead("lead-0"));
    const log = recording();
    const progress = { running: false, eventsRead: 0, leadsWritten: 0 };
    const generation = await ensureLiveState({
      ...options,
      log,
      progress,
      runRebuild: rebuildInChild(stack.config, stack.config.REDIS_PREFIX),
    });
    expect(await redis.get(options.keys.gen)).toBe(generation);
    // The child's own log line, and its process id: not this one's.
    const rebuilt = log.lines.find((line) => line.message === "live state rebuilt");
    expect(rebuilt?.fields).toMatchObject({ leads: 4, events: 600 });
    const ended = log.lines.find((line) => line.message === "rebuild process ended");
    expect(ended?.fields?.pid).toEqual(expect.any(Number));
    expect(ended?.fields?.pid).not.toBe(process.pid);
    expect(log.lines.some((line) => line.message === "rebuild progress")).toBe(true);
    expect(progress).toEqual({ running: false, eventsRead: 600, leadsWritten: 4 });
    expect(await historyOf(stack, "lead-0")).toEqual(history);
    expect(await auditAll(stack)).toEqual([]);
    expect(await redis.exists(options.keys.rebuildLock)).toBe(0);
  }, 120_000);

  it("writes nothing once the lock it runs under is no longer the caller's", async () => {
    stack = await scored(60);
    await Promise.all(stack.workers.map((worker) => worker.close()));
    redis = new Redis(REDIS_URL);
    const options = rebuildOptionsOf(stack, redis);
    const before = await redis.get(options.keys.gen);
    const run = withRebuildLock(redis, options.keys, async (lock) => {
      await redis?.set(options.keys.rebuildLock, "another-process", "PX", 60_000);
      return rebuildInChild(
        stack?.config as TestStack["config"],
        stack?.config.REDIS_PREFIX as string,
      )({ ...options, lock });
    });
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    expect(await redis.get(options.keys.gen)).toBe(before);
    expect(await redis.zcard(options.keys.next().byScore)).toBe(0);
  }, 120_000);

  it("shows the child's progress in the worker's /metrics", async () => {
    stack = await scored(300, { METRICS_PORT: "0" });
    const worker = stack.workers[0];
    redis = new Redis(REDIS_URL);
    const { keys } = rebuildOptionsOf(stack, redis);
    await redis.del(keys.gen, keys.byScore);
    const metric = async (name: string) => {
      const text = await (await fetch(`http://127.0.0.1:${worker?.metricsPort}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    };
    await eventually(async () => (await metric("leadscore_worker_rebuild_events_read")) === 300, 60_000);
    await eventually(async () => (await metric("leadscore_worker_rebuild_running")) === 0, 60_000);
    expect(await metric("leadscore_worker_rebuild_leads_written")).toBe(4);
    await eventually(async () => (await auditAll(stack as TestStack)).length === 0, 60_000);
  }, 120_000);
});
