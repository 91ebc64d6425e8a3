// Faults of the live state under load. While a client sends events at a steady rate (retrying every 503 and every
// request that got no answer), (a) every live key (`<prefix>:live:*`) is deleted: the worker finds its generation
// gone and rebuilds from MongoDB; (b) Redis is stopped cleanly, or SIGKILLed with `appendfsync always` and with
// `everysec`, and started again on its append-only file: the worker finds a new run id and a generation that came
// back, and catches up the batches the file may have lost (worker/src/catch-up.ts) instead of rebuilding. Afterwards
// the live state — scores, ranks (the leaderboard index), whole histories — is the fold of the stored events, and:
// - live keys deleted, a clean stop, or `always`: every event the edge acknowledged is folded exactly once;
// - `everysec`: what the edge acknowledged in the last second before the kill may be gone with the queue's jobs (the
//   window is printed, and must stay under about a second of traffic); nothing is folded twice.
//
// LIVE_FAULT_EVENTS and LIVE_FAULT_RATE (events/s) make it longer; LIVE_FAULT_LOGS names a folder that keeps every
// process's output of each run (where a slow catch-up spent its time).
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SCORE_CAP } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { RECONNECT } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { uniqueName } from "../../test-support/index.ts";
import { type AuditReport, auditScores } from "./audit.ts";
import { createLoadClient } from "./client.ts";
import { drained } from "./queue-state.ts";
import { catchUpAfterReadyMs, catchUpsLogged, deleteLiveKeys, rebuildsLogged } from "./restart-log.ts";
import { type FaultStack, type StackOptions, startFaultStack } from "./stack.ts";
import { buildWorkload, putFaultRules } from "./workload.ts";

const EVENTS = Number(process.env.LIVE_FAULT_EVENTS ?? 1200);
const RATE = Number(process.env.LIVE_FAULT_RATE ?? 100);
const DURATION_MS = (EVENTS / RATE) * 1000;
const DRAIN_MS = 120_000 + EVENTS * 50;
const TIMEOUT_MS = 120_000 + DURATION_MS * 2 + DRAIN_MS;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface FaultRun {
  report: AuditReport;
  client: ReturnType<typeof createLoadClient>;
  notes: string[];
  /**
   * The live state's generation just before the fault and after the drain, rebuilds and catch-ups the workers logged
   * since, and how long after the fault the generation was current again (caught up), when it was.
   */
  rebuild: {
    before: string | null;
    after: string | null;
    logged: number;
    caughtUp: number;
    currentAfterMs?: number;
    /** From Redis accepting connections again (the fault's end) to the generation current. */
    currentAfterBackMs?: number;
  };
}

/** Runs the load on a fresh stack, applies `fault` at 40% of it, drains, and audits. */
async function runWithFault(
  options: StackOptions,
  label: string,
  fault: (stack: FaultStack) => Promise<string>,
  track: (stack: FaultStack) => void,
): Promise<FaultRun> {
  const stack = await startFaultStack({ ...options, workerEnv: { JOB_LOCK_MS: "5000" } });
  track(stack);
  // Scored with limits and groups (FAULT_RULES), put in force as the rules API does.
  await putFaultRules(stack.db);
  await stack.startEdge();
  await stack.startWorker();
  const sends = buildWorkload({ runId: uniqueName("lf"), events: EVENTS, rate: RATE, seed: 11, batchSize: 8 });
  const client = createLoadClient({ baseUrl: () => stack.edgeUrl, writeKey: stack.writeKey });
  const started = Date.now();
  const notes: string[] = [];
  const note = (what: string) => notes.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);
  const generation = () => stack.redis.get(liveKeys(stack.prefix).gen);
  let [before, rebuildsBefore, catchUpsBefore]: [string | null, number, number] = [null, 0, 0];
  let currentAfterMs: number | undefined;
  let currentAfterBackMs: number | undefined;
  const chaos = (async () => {
    await sleep(0.4 * DURATION_MS);
    [before, rebuildsBefore] = [await generation(), rebuildsLogged(stack.output())];
    catchUpsBefore = catchUpsLogged(stack.output());
    const faultAt = Date.now();
    note(await fault(stack));
    const backAt = Date.now();
    // When the workers named a generation on the Redis that came back (a rebuild's or a catch-up's), looked at on a
    // connection of its own opened now: the stack's client may still be waiting out its reconnection backoff.
    const probe = new Redis(stack.redisUrl, RECONNECT);
    probe.on("error", () => undefined);
    try {
      for (let waited = 0; waited < 60_000; waited += 100) {
        const current = await probe.get(liveKeys(stack.prefix).gen).catch(() => null);
        if (current !== null && current !== before && !current.startsWith("rebuilding:")) {
          [currentAfterMs, currentAfterBackMs] = [Date.now() - faultAt, Date.now() - backAt];
          note(
            `generation current again ${currentAfterMs} ms after the fault began, ${currentAfterBackMs} ms after Redis was back`,
          );
          break;
        }
        await sleep(100);
      }
    } finally {
      probe.disconnect();
    }
  })();
  try {
    await Promise.all([client.run(sends), chaos]);
    note("load done; draining");
    await drained(stack.redis, stack.prefix, DRAIN_MS);
    const report = await auditScores(
      { db: stack.db, redis: stack.redis, redisPrefix: stack.prefix },
      client.acknowledged(),
      DEFAULT_SCORE_CAP,
    );
    const figures = client.figures();
    console.info(
      [
        `${label}: ${EVENTS} events at ${RATE}/s`,
        ...notes.map((line) => `  ${line}`),
        `  acknowledged ${figures.acknowledged}; 503s retried ${figures.unavailable}, unanswered retried ${figures.connectionErrors}`,
        `  folded ${report.scored} over ${report.leads} leads; acknowledged but lost ${report.lost.length}, ` +
          `folded twice ${report.duplicated.length}, problems ${report.problems.length}`,
      ].join("\n"),
    );
    const output = stack.output();
    if (process.env.LIVE_FAULT_LOGS) {
      const file = join(process.env.LIVE_FAULT_LOGS, `${stack.prefix}.log`);
      await writeFile(file, output);
      console.info(`${label}: the output of every process is in ${file}`);
    }
    const caughtUpMs = catchUpAfterReadyMs(output);
    if (caughtUpMs !== undefined) console.info(`${label}: caught up ${caughtUpMs} ms after Redis was ready again`);
    const rebuild = {
      before,
      after: await generation(),
      logged: rebuildsLogged(output) - rebuildsBefore,
      caughtUp: catchUpsLogged(output) - catchUpsBefore,
      currentAfterMs,
      currentAfterBackMs,
    };
    return { report, client, notes, rebuild };
  } catch (error) {
    const file = join(tmpdir(), `${stack.prefix}.log`);
    await writeFile(file, stack.output());
    console.error(`${label} failed; the output of every process is in ${file}`);
    throw error;
  }
}

/** A live state existed before the fault, and the workers rebuilt it after: a new generation, a rebuild logged. */
function expectRebuilt(rebuild: FaultRun["rebuild"]) {
  expect(rebuild.before).toMatch(/.+:.+/);
  expect(rebuild.after).toMatch(/.+:.+/);
  expect(rebuild.after).not.toBe(rebuild.before);
  expect(rebuild.logged).toBeGreaterThanOrEqual(1);
}

/**
 * The live state came back with Redis and was caught up, not rebuilt: the same generation (its label) named on the
 * new run of Redis, a catch-up logged and no rebuild.
 */
function expectCaughtUp(rebuild: FaultRun["rebuild"]) {
  const [runBefore, layoutBefore, labelBefore] = (rebuild.before ?? "").split(":");
  const [runAfter, layoutAfter, labelAfter] = (rebuild.after ?? "").split(":");
  expect(labelBefore).toMatch(/.+/);
  expect({ layout: layoutAfter, label: labelAfter }).toEqual({ layout: layoutBefore, label: labelBefore });
  expect(runAfter).not.toBe(runBefore);
  expect(rebuild.caughtUp).toBeGreaterThanOrEqual(1);
  expect(rebuild.logged).toBe(0);
}

describe("when the live state in Redis is lost under load", () => {
  let stack: FaultStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  }, 60_000);
  const track = (running: FaultStack) => {
    stack = running;
  };

  it(
    "rebuilds it from MongoDB after its keys are deleted, and loses nothing",
    async () => {
      let deleted = 0;
      const { report, client, rebuild } = await runWithFault(
        {},
        "live keys deleted",
        async (running) => {
          deleted = await deleteLiveKeys(running.redis, running.prefix);
          return `deleted ${deleted} live keys`;
        },
        track,
      );
      // The fault happened (a lead hash and its index entries at least, and the generation) and a rebuild followed.
      expect(deleted).toBeGreaterThan(3);
      expectRebuilt(rebuild);
      expect(report.lost).toEqual([]);
      expect(report.duplicated).toEqual([]);
      expect(report.phantoms).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(report.scored).toBe(client.acknowledged().size);
      expect(report.cuts.limit).toBeGreaterThan(0);
      expect(report.cuts.group).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    "costs no rebuild when Redis stops cleanly and starts again on its append-only file, and loses nothing",
    async () => {
      const { report, client, rebuild } = await runWithFault(
        { redisFsync: "everysec" },
        "Redis restarted cleanly",
        async (running) => {
          await running.restartRedis(500);
          return "Redis stopped (SIGTERM) and started again on its append-only file";
        },
        track,
      );
      expectCaughtUp(rebuild);
      console.info(`clean restart: generation current again ${rebuild.currentAfterMs} ms after the stop began`);
      expect(rebuild.currentAfterMs).toBeGreaterThan(0);
      expect(report.lost).toEqual([]);
      expect(report.missingEvents).toEqual([]);
      expect(report.duplicated).toEqual([]);
      expect(report.phantoms).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(report.scored).toBe(client.acknowledged().size);
    },
    TIMEOUT_MS,
  );

  it(
    "loses nothing acknowledged when Redis is SIGKILLed with appendfsync always",
    async () => {
      const { report, client, rebuild } = await runWithFault(
        { redisFsync: "always" },
        "Redis SIGKILLed (appendfsync always)",
        async (running) => {
          await running.crashRedis(500);
          return "Redis SIGKILLed, started again on its append-only file";
        },
        track,
      );
      expectCaughtUp(rebuild);
      expect(report.lost).toEqual([]);
      expect(report.missingEvents).toEqual([]);
      expect(report.duplicated).toEqual([]);
      expect(report.phantoms).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(report.scored).toBe(client.acknowledged().size);
      expect(report.cuts.limit).toBeGreaterThan(0);
      expect(report.cuts.group).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it(
    "loses at most about a second of acknowledged events with appendfsync everysec, and agrees with MongoDB",
    async () => {
      const { report, rebuild } = await runWithFault(
        { redisFsync: "everysec" },
        "Redis SIGKILLed (appendfsync everysec)",
        async (running) => {
          await running.crashRedis(500);
          return "Redis SIGKILLed, started again on its append-only file";
        },
        track,
      );
      expectCaughtUp(rebuild);
      console.info(
        `appendfsync everysec: ${report.lost.length} acknowledged events lost with the last second ` +
          `(≈ ${((report.lost.length / RATE) * 1000).toFixed(0)} ms of traffic at ${RATE}/s)`,
      );
      // Redis fsyncs once a second (up to two when a write is slow): the window is at most that much traffic.
      expect(report.lost.length).toBeLessThanOrEqual(2 * RATE);
      // What was lost went with the queue before it was stored: nothing acknowledged is half there.
      expect(report.missingEvents.sort()).toEqual([...report.lost].sort());
      expect(report.duplicated).toEqual([]);
      expect(report.phantoms).toEqual([]);
      expect(report.problems).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
