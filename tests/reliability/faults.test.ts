// Faults under load: while a client sends events at a steady rate (retrying every 503 and every request that got no
// answer, as clients must), workers are SIGKILLed, Redis restarts, the MongoDB-compatible server goes away for a
// while and the edge is SIGKILLed and replaced. Afterwards every event the client was told "yes" about is scored
// exactly once, nothing else is, and every lead's history is the pure fold of its stored events.
//
// CI size by default; FAULT_EVENTS, FAULT_RATE (events/s), FAULT_BATCH (mean events per batch request) and
// FAULT_MONGO_DOWN_MS make it longer, and WORKER_CONCURRENCY reaches the workers, e.g.
//   FAULT_EVENTS=24000 FAULT_RATE=200 FAULT_BATCH=100 WORKER_CONCURRENCY=16 \
//     npx vitest run tests/reliability/faults.test.ts
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SCORE_CAP } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../../test-support/index.ts";
import { type AuditReport, auditScores } from "./audit.ts";
import { createLoadClient } from "./client.ts";
import { drained, type QueueState } from "./queue-state.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";
import { buildWorkload, putFaultRules } from "./workload.ts";

const EVENTS = Number(process.env.FAULT_EVENTS ?? 1500);
const RATE = Number(process.env.FAULT_RATE ?? 50);
const MONGO_DOWN_MS = Number(process.env.FAULT_MONGO_DOWN_MS ?? 10_000);
/** Mean events per `POST /api/batch`; server SDKs send large ones. */
const BATCH = Number(process.env.FAULT_BATCH ?? 12);
const DURATION_MS = (EVENTS / RATE) * 1000;
// What is left queued when the load ends is drained at no less than 20 events a second (FerretDB on a busy box).
const DRAIN_MS = Number(process.env.FAULT_DRAIN_MS ?? 120_000 + MONGO_DOWN_MS * 2 + EVENTS * 50);
// Start-up, the load itself, the faults' own time, and the drain.
const TIMEOUT_MS = 120_000 + DURATION_MS * 2 + DRAIN_MS;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("when processes crash and services restart under load", () => {
  let stack: FaultStack | undefined;
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  let report: AuditReport;
  let queue: QueueState;
  let client: ReturnType<typeof createLoadClient>;
  const faults: string[] = [];

  beforeAll(async () => {
    stack = await startFaultStack({ workerEnv: { JOB_LOCK_MS: "5000" } });
    const running = stack;
    // Scored with limits and groups (FAULT_RULES), put in force as the rules API does.
    await putFaultRules(running.db);
    await running.startEdge();
    await Promise.all([running.startWorker(), running.startWorker()]);

    const runId = uniqueName("f");
    const sends = buildWorkload({ runId, events: EVENTS, rate: RATE, seed: 7, batchSize: BATCH });
    client = createLoadClient({ baseUrl: () => running.edgeUrl, writeKey: running.writeKey });
    const started = Date.now();
    const when = async (fraction: number) => {
      const wait = started + fraction * DURATION_MS - Date.now();
      if (wait > 0) await sleep(wait);
    };
    const note = (what: string) => faults.push(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);

    const chaos = (async () => {
      await when(0.1);
      await running.killWorker(0);
      note("SIGKILL worker 1");
      await running.startWorker();
      await when(0.22);
      await running.restartRedis();
      note("Redis restarted (SIGTERM, start on the same append-only file)");
      await when(0.35);
      note(`MongoDB-compatible server killed for ${MONGO_DOWN_MS / 1000} s`);
      await running.outageMongo(MONGO_DOWN_MS);
      note("MongoDB-compatible server back");
      await when(0.7);
      await running.killEdge();
      note("SIGKILL edge");
      await running.startEdge();
      note("new edge listening");
      await when(0.85);
      await running.killWorker(1);
      note("SIGKILL worker 2");
      await running.startWorker();
    })();
    try {
      await Promise.all([client.run(sends), chaos]);
      note("load done; draining the queue");
      queue = await drained(running.redis, running.prefix, DRAIN_MS);
      note("queue drained");
      report = await auditScores(
        { db: running.db, redis: running.redis, redisPrefix: running.prefix },
        client.acknowledged(),
        DEFAULT_SCORE_CAP,
      );
    } catch (error) {
      const file = join(tmpdir(), `${running.prefix}.log`);
      await writeFile(file, running.output());
      console.error(`fault run failed; the output of every process is in ${file}`);
      throw error;
    }
    const figures = client.figures();
    console.info(
      [
        `fault run: ${EVENTS} events at ${RATE}/s over ${(DURATION_MS / 1000).toFixed(0)} s`,
        ...faults.map((line) => `  ${line}`),
        `  sent ${figures.sent} distinct events in ${figures.requests} requests`,
        `  accepted (2xx) ${figures.acknowledged}, refused by contract ${figures.refused}`,
        `  refused with 503 and retried ${figures.unavailable}, no answer and retried ${figures.connectionErrors}`,
        `  answered "duplicate" ${figures.answeredDuplicate}, accepted twice after a lost answer ${client.acceptedTwice().length}`,
        `  scored ${report.scored} over ${report.leads} leads; lost ${report.lost.length}, duplicated ${report.duplicated.length}`,
        `  queue: ${queue.completed} completed jobs kept, ${queue.failed} failed`,
      ].join("\n"),
    );
  }, TIMEOUT_MS);

  it("gives every request a definite answer the contract allows", () => {
    expect(client.figures().unexpected).toEqual([]);
    // The faults were felt: requests went unanswered while the edge was down, or were refused while Redis was.
    expect(client.figures().connectionErrors + client.figures().unavailable).toBeGreaterThan(0);
    expect(client.neverAcknowledged().size).toBe(client.figures().refused);
  });

  it("drains the queue with no failed job", () => {
    expect(queue.failedReasons).toEqual({});
  });

  it("scores every acknowledged event exactly once", () => {
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.missingEvents).toEqual([]);
    expect(report.scored).toBe(client.acknowledged().size);
  });

  it("scores nothing the client was not told was accepted", () => {
    expect(report.phantoms).toEqual([]);
  });

  it("keeps every lead's history equal to the fold of its stored events", () => {
    expect(report.problems).toEqual([]);
    // The run met frequency limits and groups at their max, each checked against the fold by the audit above.
    expect(report.cuts.limit).toBeGreaterThan(0);
    expect(report.cuts.group).toBeGreaterThan(0);
  });
});
