// Worker benchmark: how fast real worker processes score queued events into MongoDB, and how long an event waits
// from acceptance to a committed score at a fixed input rate; beside a raw `insertMany` of as many history documents
// (and raw per-lead updates) in the same database, so the ratio shows what the worker adds over the store's floor.
//
//   npm run bench:worker
//   npm run bench:worker -- --events 100000 --leads 5000 --rate 5000 --seconds 20
//
// Options: --events to drain (default 100000 on MongoDB, 10000 on FerretDB), --leads (5000 / 500), --job (events
// per job, 500), --late (share of events older than their lead's newest, 0.02), --concurrency (jobs per worker
// process, 32), --rate (events/s of the lag phase, comma-separated for several runs: 5000 / 50,250,5000), --seconds (lag
// phase length, 20 / 10), --workers (processes in the lag phase, 2 / 1), --settle (seconds the workers get to catch up
// after the lag phase; what is still unscored then counts as at least that late, 30). Each phase uses its own database and queue prefix, dropped afterwards.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  COLLECTIONS,
  EVENTS_QUEUE,
  type EventsJob,
  type HistoryDocument,
  INDEXES,
  type LeadDocument,
  type QueuedEvent,
  sortKey,
} from "@leadscore/contracts";
import { parsePrometheus, type Sample, sumOf } from "@leadscore/contracts/prometheus";
import Queue from "bull";
import type { Db } from "mongodb";
import { createTestDb, createTestRedis, freePort, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { NODE_TS, type RunningProcess, startProcess } from "../test-support/processes.ts";
import { LAG_BUCKETS } from "../worker/src/metrics.ts";
import { bulkWriteChunked, detectStoreLimits } from "../worker/src/store.ts";
import { MAX_BATCH_EVENTS } from "../worker/src/worker.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string" },
    leads: { type: "string" },
    job: { type: "string", default: "500" },
    late: { type: "string", default: "0.02" },
    concurrency: { type: "string", default: "32" },
    rate: { type: "string" },
    seconds: { type: "string" },
    workers: { type: "string" },
    settle: { type: "string", default: "30" },
  },
});

const TYPES = ["page_view", "page_view", "page_view", "email_open", "email_open", "form_submission", "purchase"];
const T0 = Date.parse("2026-01-01T00:00:00Z");

/** Event generator: leads picked at random, event times mostly increasing per lead, a share of them late. */
function createEvents(leads: number, lateShare: number, seed: number) {
  const random = createRandom(seed);
  const clock = new Map<number, number>();
  let sequence = 0;
  return (receivedAt: number): QueuedEvent => {
    const lead = Math.floor(random() * leads);
    const last = clock.get(lead) ?? T0;
    const late = random() < lateShare && last > T0;
    const timestamp = late ? last - 1 - Math.floor(random() * 60_000) : last + 1 + Math.floor(random() * 1_000);
    if (!late) clock.set(lead, timestamp);
    sequence += 1;
    return {
      event_id: `b-${seed}-${sequence}`,
      lead_id: `lead-${lead}`,
      event_type: TYPES[Math.floor(random() * TYPES.length)] ?? "page_view",
      timestamp,
      received_at: receivedAt,
      metadata: { path: "/pricing" },
    };
  };
}

/**
 * What to undo should the run be interrupted: worker processes to stop, then databases and queues to drop — in
 * that order, since FerretDB can crash when a database is dropped under a process still writing to it.
 */
const running = new Set<() => Promise<unknown>>();
const scratches = new Set<() => Promise<unknown>>();
let undoing: Promise<void> | undefined;
const undoAll = () => {
  undoing ??= (async () => {
    await Promise.allSettled([...running].map((stop) => stop()));
    await Promise.allSettled([...scratches].map((close) => close()));
  })();
  return undoing;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    console.error(`\n${signal}: stopping workers, then dropping scratch databases…`);
    await undoAll();
    process.exit(130);
  });
}

interface Scratch {
  db: Db;
  prefix: string;
  env: Record<string, string>;
  queue: Queue.Queue<EventsJob>;
  close(): Promise<void>;
}

async function scratch(label: string, extraEnv: Record<string, string> = {}): Promise<Scratch> {
  const testDb = await createTestDb(uniqueName(`bench-worker-${label}`));
  const prefix = uniqueName("bw");
  const redis = await createTestRedis(prefix);
  const queue = new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix });
  const close = async () => {
    scratches.delete(close);
    await queue.close();
    await redis.cleanup();
    await testDb.drop();
  };
  scratches.add(close);
  return {
    db: testDb.db,
    prefix,
    env: {
      NODE_ENV: "production",
      REDIS_URL,
      MONGO_URL: testDb.url,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "info",
      WORKER_CONCURRENCY: args.concurrency,
      ...extraEnv,
    },
    queue,
    close,
  };
}

async function startWorkers(count: number, env: Record<string, string>, metricsPorts: number[] = []) {
  const workers: RunningProcess[] = [];
  for (let i = 0; i < count; i += 1) {
    const port = metricsPorts[i];
    workers.push(
      startProcess(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/main.ts"], {
        ...env,
        METRICS_PORT: port ? String(port) : "0",
      }),
    );
  }
  const stop = () => Promise.all(workers.map((worker) => worker.stop("SIGTERM", 60_000)));
  running.add(stop);
  await Promise.all(workers.map((worker) => worker.waitFor(/worker ready/, 60_000)));
  return { workers, stop };
}

async function stopWorkers(started: { stop(): Promise<unknown> }) {
  running.delete(started.stop);
  await started.stop();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitDone(queue: Queue.Queue<EventsJob>, jobs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts();
    if (counts.failed > 0) throw new Error(`${counts.failed} jobs failed`);
    if (counts.completed >= jobs) return performance.now();
    if (Date.now() > deadline) throw new Error(`only ${counts.completed} of ${jobs} jobs done in time`);
    await sleep(50);
  }
}

/** Raw floor: history-shaped documents with `insertMany` in chunks of the job size, into an indexed collection. */
async function rawInsert(db: Db, events: QueuedEvent[]): Promise<number> {
  const collection = db.collection<HistoryDocument>("raw_history");
  await collection.createIndex({ lead_id: 1, sort_key: 1 }, { name: "lead_order" });
  const chunk = Number(args.job);
  const started = performance.now();
  for (let from = 0; from < events.length; from += chunk) {
    await collection.insertMany(
      events.slice(from, from + chunk).map((event) => ({
        _id: event.event_id,
        event_id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        timestamp: new Date(event.timestamp),
        received_at: new Date(event.received_at),
        points: 5,
        delta: 5,
        score: 5,
        reason: "page_view +5",
        rule_id: "page_view",
        sort_key: sortKey(event.timestamp, event.event_id),
        late: false,
        seq: 1,
        score_reached_at: null,
      })),
    );
  }
  return events.length / ((performance.now() - started) / 1000);
}

/** One lead write in the worker's shape on this server: by `_id` and version, or by `_id` alone (FerretDB). */
function leadUpdate(id: string, version: number, versionInFilter: boolean, at: Date) {
  return {
    updateOne: {
      filter: versionInFilter ? { _id: id, version } : { _id: id },
      update: { $set: { current_score: version + 5, version: version + 1, updated_at: at } },
    },
  };
}

/** Raw per-lead writes: one `updateOne` per lead, with the leads' indexes, in the worker's shapes and chunks. */
async function rawLeadUpdates(db: Db, leads: number): Promise<number> {
  const collection = db.collection<LeadDocument>("raw_leads");
  for (const spec of INDEXES.leads) await collection.createIndex(spec.key, { name: spec.name });
  const at = new Date();
  const docs = Array.from({ length: leads }, (_, i) => ({
    _id: `lead-${i}`,
    current_score: 0,
    version: 0,
    updated_at: at,
  }));
  for (let from = 0; from < docs.length; from += 1000) {
    await collection.insertMany(docs.slice(from, from + 1000) as LeadDocument[]);
  }
  const limits = await detectStoreLimits(db);
  const sample = docs.slice(0, Math.min(leads, 1000));
  const started = performance.now();
  await bulkWriteChunked(
    collection,
    sample.map((doc) => leadUpdate(doc._id, 0, limits.versionInFilter, at)),
    limits,
  );
  return sample.length / ((performance.now() - started) / 1000);
}

/**
 * The store's floor for the drain: the writes the worker cannot avoid, with none of its reads or checks — per batch
 * of the jobs a process holds at once, the events and history inserted and each touched lead written once.
 */
async function rawWorkload(db: Db, events: QueuedEvent[], batchEvents: number): Promise<number> {
  const limits = await detectStoreLimits(db);
  const eventsCollection = db.collection<{ _id: string }>("raw_w_events");
  const historyCollection = db.collection<{ _id: string }>("raw_w_history");
  const leadsCollection = db.collection<LeadDocument>("raw_w_leads");
  for (const [name, collection] of [
    [COLLECTIONS.events, eventsCollection],
    [COLLECTIONS.history, historyCollection],
    [COLLECTIONS.leads, leadsCollection],
  ] as const) {
    for (const spec of INDEXES[name]) await collection.createIndex(spec.key, { name: spec.name });
  }
  const versions = new Map<string, number>();
  const at = new Date();
  const started = performance.now();
  for (let from = 0; from < events.length; from += batchEvents) {
    const batch = events.slice(from, from + batchEvents);
    const keyed = batch.map((event) => ({
      _id: event.event_id,
      lead_id: event.lead_id,
      event_type: event.event_type,
      timestamp: new Date(event.timestamp),
      received_at: new Date(event.received_at),
      points: 5,
      sort_key: sortKey(event.timestamp, event.event_id),
    }));
    await eventsCollection.insertMany(keyed.map((doc, i) => ({ ...doc, metadata: batch[i]?.metadata ?? {} })));
    await historyCollection.insertMany(
      keyed.map((doc) => ({ ...doc, event_id: doc._id, delta: 5, score: 5, reason: "page_view +5", seq: 1 })),
    );
    const touched = [...new Set(batch.map((event) => event.lead_id))];
    const fresh = touched.filter((id) => !versions.has(id));
    if (fresh.length > 0) {
      await leadsCollection.insertMany(
        fresh.map((id) => ({ _id: id, current_score: 5, version: 1, updated_at: at })) as LeadDocument[],
      );
    }
    const updates = touched
      .filter((id) => versions.has(id))
      .map((id) => leadUpdate(id, versions.get(id) ?? 0, limits.versionInFilter, at));
    await bulkWriteChunked(leadsCollection, updates, limits);
    for (const id of touched) versions.set(id, (versions.get(id) ?? 0) + 1);
  }
  return events.length / ((performance.now() - started) / 1000);
}

async function metricsOf(port: number): Promise<Sample[]> {
  return parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

const cpuSeconds = async (ports: number[]) =>
  (
    await Promise.all(
      ports.map(async (port) => sumOf(await metricsOf(port), "process_cpu_seconds_total") ?? Number.NaN),
    )
  ).reduce((a, b) => a + b, 0);

async function drain(
  processes: number,
  total: number,
  leads: number,
): Promise<{ perSecond: number; seconds: number; cpuMicrosPerEvent: number }> {
  const space = await scratch(`drain${processes}`);
  let workers: Awaited<ReturnType<typeof startWorkers>> | undefined;
  try {
    const next = createEvents(leads, Number(args.late), processes);
    const perJob = Number(args.job);
    // Paused for everyone while the queue fills, so the clock starts with a full queue and warm processes.
    await space.queue.pause();
    let jobs = 0;
    for (let from = 0; from < total; from += perJob * 20) {
      const batch = [];
      for (let j = from; j < Math.min(total, from + perJob * 20); j += perJob) {
        const now = Date.now();
        const events = Array.from({ length: Math.min(perJob, total - j) }, () => next(now));
        batch.push({ data: { v: 1 as const, events }, opts: { removeOnComplete: false, attempts: 5 } });
      }
      await space.queue.addBulk(batch);
      jobs += batch.length;
    }
    const ports = await Promise.all(Array.from({ length: processes }, () => freePort()));
    workers = await startWorkers(processes, space.env, ports);
    const cpuBefore = await cpuSeconds(ports);
    const started = performance.now();
    await space.queue.resume();
    const finished = await waitDone(space.queue, jobs, 30 * 60_000);
    // The workers' own CPU per event: what a faster store would leave as the limit of one core.
    const cpuMicrosPerEvent = (((await cpuSeconds(ports)) - cpuBefore) * 1e6) / total;
    await stopWorkers(workers);
    workers = undefined;
    const scored = await space.db.collection(COLLECTIONS.history).countDocuments({});
    if (scored !== total) throw new Error(`history has ${scored} entries, expected ${total}`);
    const seconds = (finished - started) / 1000;
    return { perSecond: total / seconds, seconds, cpuMicrosPerEvent };
  } finally {
    if (workers) await stopWorkers(workers);
    await space.close();
  }
}

/**
 * p-quantile over `total` samples of which the histogram holds the scored ones (linear within a bucket, as
 * Prometheus' histogram_quantile does); a rank among the unscored gives only a lower bound, `floorMs`.
 */
function quantile(
  q: number,
  cumulative: number[],
  total: number,
  floorMs: number,
): { ms: number; lowerBound: boolean } {
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i += 1) {
    if ((cumulative[i] ?? 0) >= rank) {
      const lower = i === 0 ? 0 : (LAG_BUCKETS[i - 1] ?? 0);
      const upper = LAG_BUCKETS[i] ?? lower;
      const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0);
      const inBucket = (cumulative[i] ?? 0) - below;
      const seconds = inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
      return { ms: seconds * 1000, lowerBound: false };
    }
  }
  return { ms: floorMs, lowerBound: true };
}

interface LagResult {
  p50: { ms: number; lowerBound: boolean };
  p99: { ms: number; lowerBound: boolean };
  achieved: number;
  events: number;
  unscored: number;
}

async function lagAtRate(rate: number, seconds: number, processes: number, leads: number): Promise<LagResult> {
  const space = await scratch("lag");
  const ports = await Promise.all(Array.from({ length: processes }, () => freePort()));
  const workers = await startWorkers(processes, space.env, ports);
  try {
    const next = createEvents(leads, Number(args.late), 99);
    // The edge flushes micro-batches every few milliseconds; 20 ms here.
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const started = performance.now();
    let sent = 0;
    for (let tick = 0; performance.now() - started < seconds * 1000; tick += 1) {
      const due = started + tick * tickMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const now = Date.now();
      const events = Array.from({ length: perTick }, () => next(now));
      await space.queue.add({ v: 1, events }, { removeOnComplete: true, attempts: 5 });
      sent += events.length;
    }
    const sentAt = performance.now();
    // Give the workers time to catch up, but not forever: what is still unscored then is at least that late.
    const settleMs = Number(args.settle) * 1000;
    while (performance.now() - sentAt < settleMs) {
      const counts = await space.queue.getJobCounts();
      if (counts.waiting + counts.active + counts.delayed === 0) break;
      await sleep(100);
    }
    const cumulative = LAG_BUCKETS.map(() => 0);
    let scored = 0;
    for (const port of ports) {
      const samples = await metricsOf(port);
      LAG_BUCKETS.forEach((bound, i) => {
        const bucket = samples.find(
          (sample) => sample.name === "leadscore_worker_lag_seconds_bucket" && sample.labels.le === String(bound),
        );
        cumulative[i] = (cumulative[i] ?? 0) + (bucket?.value ?? 0);
      });
      scored += sumOf(samples, "leadscore_worker_lag_seconds_count") ?? 0;
    }
    const floorMs = performance.now() - sentAt;
    return {
      p50: quantile(0.5, cumulative, sent, floorMs),
      p99: quantile(0.99, cumulative, sent, floorMs),
      achieved: sent / ((sentAt - started) / 1000),
      events: sent,
      unscored: sent - scored,
    };
  } finally {
    await stopWorkers(workers);
    await space.close();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function main() {
  const probe = await scratch("probe");
  const limits = await detectStoreLimits(probe.db);
  const ferret = limits.server === "ferretdb";
  // FerretDB rewrites a lead by scanning the leads table and its indexes, so its defaults keep that table small.
  const total = Number(args.events ?? (ferret ? 10_000 : 100_000));
  const leads = Number(args.leads ?? (ferret ? 500 : 5_000));
  const lagSeconds = Number(args.seconds ?? (ferret ? 10 : 20));
  // On FerretDB also a rate it can keep up with, so the lag of an unsaturated worker shows beside the target's.
  const rates = (args.rate ?? (ferret ? "50,250,5000" : "5000")).split(",").map(Number);
  // A second process does not help on FerretDB/SQLite (one writer): the lag phase uses one there.
  const lagWorkers = Number(args.workers ?? (ferret ? 1 : 2));
  console.log(
    `worker bench on ${ferret ? "FerretDB" : "MongoDB"}: ${fmt(total)} events over ${fmt(leads)} leads, ` +
      `jobs of ${args.job}, ${Number(args.late) * 100}% late, ${args.concurrency} jobs in hand per process`,
  );
  const rawEvents = Array.from(
    { length: total },
    (
      (next) => () =>
        next(Date.now())
    )(createEvents(leads, 0, 7)),
  );
  const raw = await rawInsert(probe.db, rawEvents);
  const rawUpdates = await rawLeadUpdates(probe.db, leads);
  const batchEvents = Math.min(Number(args.job) * Number(args.concurrency), MAX_BATCH_EVENTS);
  const floor = await rawWorkload(probe.db, rawEvents, batchEvents);
  await probe.close();
  const shape = limits.versionInFilter ? "by _id and version" : "by _id";
  console.log(`  raw insertMany of history documents   ${fmt(raw)} docs/s`);
  console.log(`  raw per-lead updateOne ${shape} (${fmt(leads)} leads) ${fmt(rawUpdates)} ops/s`);
  console.log(
    `  raw writes of the drain (events + history inserted, each touched lead written once per ` +
      `${fmt(batchEvents)} events) ${fmt(floor)} events/s`,
  );

  for (const processes of [1, 2]) {
    const result = await drain(processes, total, leads);
    console.log(
      `  drain, ${processes} worker process${processes > 1 ? "es" : ""}          ${fmt(result.perSecond)} events/s ` +
        `(${result.seconds.toFixed(1)} s; ${(result.perSecond / raw).toFixed(2)}× raw insertMany, ` +
        `${(result.perSecond / floor).toFixed(2)}× raw writes of the drain; ` +
        `worker CPU ${fmt(result.cpuMicrosPerEvent)} µs/event)`,
    );
  }

  const ms = (q: LagResult["p50"]) => `${q.lowerBound ? "> " : ""}${fmt(q.ms)} ms`;
  for (const rate of rates) {
    const lag = await lagAtRate(rate, lagSeconds, lagWorkers, leads);
    const late = lag.unscored > 0 ? `; ${fmt(lag.unscored)} not scored ${args.settle} s after sending stopped` : "";
    console.log(
      `  lag at ${fmt(rate)} events/s for ${lagSeconds} s, ${lagWorkers} process${lagWorkers > 1 ? "es" : ""}: ` +
        `p50 ${ms(lag.p50)}, ` +
        `p99 ${ms(lag.p99)} (sent ${fmt(lag.events)} at ${fmt(lag.achieved)}/s${late})`,
    );
  }
  console.log("  targets: ≥ 10,000 events/s sustained; p99 ≤ 1,000 ms at 5,000 events/s");
}

try {
  await main();
  process.exit(0);
} catch (error) {
  // An interrupted run fails here once its queues close; the signal handler finishes the clean-up and exits.
  if (undoing) await new Promise(() => undefined);
  console.error(error);
  await undoAll();
  process.exit(1);
}
