// Worker benchmark: how fast one worker process drains a full queue into the live state (Redis) and the durable
// record (MongoDB), at a small and a large size, beside a raw `insertMany` of the same events in the same run — the
// store's floor, since every event is one insert there. Then, on the state the drain built, the acceptance → scored
// lag at a fixed input rate, the deep lane's counts and what the live state costs in Redis per lead and per entry.
//
//   npm run bench:worker                      # 10k events over 1k leads
//   npm run bench:worker -- --size large      # the small size, then 1M events over 100k leads, and the ratio
//                                             # of their drains (BENCH_SIZE=large works too)
//   npm run bench:worker -- --events 200000 --leads 20000
//   npm run bench:worker -- --cpu-prof /tmp/prof           # a V8 CPU profile of the worker per size
//   npm run bench:worker -- --rules realistic  # each size twice on the same events: the default rules, then
//                                             # bench/realistic-rules.ts (40 rules, conditions, limits, groups)
//   npm run bench:worker -- --merged 0.1      # every 10th lead id merged into another before the drain, so the
//                                             # worker resolves it on every event (docs/identity.md)
//   npm run bench:worker -- --half-life 2592000  # each size twice on the same events: without decay, then with
//                                             # this half-life (seconds) as the scoring setting
//   npm run bench:worker -- --redis-cluster 7001,7002,7003  # each size on REDIS_URL, then on a local three-master
//                                             # Redis Cluster started on those ports (one partition), and the ratio
//   npm run bench:worker -- --redis-cluster 7001,7002,7003 --partitions 6  # the cluster runs with LEAD_PARTITIONS=6
//
// Events are spread over leads by Zipf's law (exponent --zipf, 1), 2% late (--late: stamped up to a minute before
// their lead's newest event), in jobs of --job events (100) seeded straight into the queue while it is paused. One
// worker process (--concurrency jobs in hand, 32). The lag phase goes on with the same traffic at --rate events/s
// (default: half the drain's rate, so the worker is not saturated) for --seconds (10), in jobs as the edge flushes
// them (every 20 ms). Each size uses its own database and queue prefix, dropped afterwards.
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  COLLECTIONS,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type EventDocument,
  type IdentityDocument,
  INDEXES,
  keyOf,
  type QueuedEvent,
} from "@leadscore/contracts";
import { type CompactEntry, createPartitionedReader, leadHashField, liveKeys } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import {
  createQueue,
  EVENTS_QUEUE,
  type EventsJob,
  indexesFor,
  partitionPrefixes,
  type RedisTarget,
  readsUseIndexes,
  serversOf,
  writeScoringSettings,
} from "@leadscore/runtime";
import { histogramOf, histogramQuantile, histogramSince, sumOf } from "@leadscore/runtime/prometheus";
import type Queue from "bull";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { type LocalRedisCluster, startRedisCluster } from "../scripts/redis-cluster.ts";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { loggedPort, NODE_TS, type RunningProcess, startProcess, WORKER_ARGS } from "../test-support/processes.ts";
import { putRuleSet } from "../test-support/rule-sets.ts";
import { addJobs, createEvents, fmt, labelled, metricsOf, waitScoredByMetrics } from "./queue-load.ts";
import { REALISTIC_RULES } from "./realistic-rules.ts";

const { values: args } = parseArgs({
  options: {
    size: { type: "string", default: process.env.BENCH_SIZE ?? "small" },
    events: { type: "string" },
    leads: { type: "string" },
    job: { type: "string", default: "100" },
    late: { type: "string", default: "0.02" },
    zipf: { type: "string", default: "1" },
    concurrency: { type: "string", default: "32" },
    rate: { type: "string" },
    seconds: { type: "string", default: "10" },
    settle: { type: "string", default: "30" },
    audit: { type: "boolean" },
    /** `plain`: the default rules; `realistic`: each size with the default rules, then the realistic set. */
    rules: { type: "string", default: "plain" },
    /** Share of lead ids recorded as merged (each into a lead of its own) before the drain: ids resolved per event. */
    merged: { type: "string", default: "0" },
    /** Writes a V8 CPU profile of each worker process into this folder (open it in Chrome's DevTools). */
    "cpu-prof": { type: "string" },
    /** Seconds: each size runs without decay, then with this half-life. */
    "half-life": { type: "string" },
    "redis-cluster": { type: "string" },
    /** LEAD_PARTITIONS of the runs on the cluster (the single Redis keeps one). */
    partitions: { type: "string", default: "1" },
  },
});

const SIZES = {
  small: { events: 10_000, leads: 1_000 },
  large: { events: 1_000_000, leads: 100_000 },
} as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What to undo should the run be interrupted: the worker first, then databases and queues — in that order, since
 * FerretDB can crash when a database is dropped under a process still writing to it.
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
    console.error(`\n${signal}: stopping the worker, then dropping scratch databases…`);
    await undoAll();
    process.exit(130);
  });
}

interface Scratch {
  db: Db;
  prefix: string;
  /** LEAD_PARTITIONS, and each partition's prefix. */
  partitions: readonly string[];
  redis: Redis;
  env: Record<string, string>;
  /** Each partition's queue. */
  queues: Queue.Queue<EventsJob>[];
  /** Adds jobs of these events, each job's events of one partition. */
  add(events: QueuedEvent[], perJob: number): Promise<number>;
  close(): Promise<void>;
}

/** The Redis each size runs on: REDIS_URL, or with --redis-cluster the local cluster in turn (see main). */
let target: RedisTarget = { REDIS_URL, REDIS_CLUSTER_NODES: [] };

async function scratch(label: string): Promise<Scratch> {
  const testDb = await createTestDb(uniqueName(`bench-worker-${label}`));
  const onCluster = target.REDIS_CLUSTER_NODES.length > 0;
  // On a Cluster the deployment's keys share the prefix's hash slot.
  const prefix = onCluster ? `{${uniqueName("bw")}}` : uniqueName("bw");
  const partitions = partitionPrefixes(prefix, onCluster ? Number(args.partitions) : 1);
  const testRedis = await createTestRedis(prefix, target);
  const queues = partitions.map((each) => createQueue<EventsJob>(EVENTS_QUEUE, target, { prefix: each }));
  const close = async () => {
    scratches.delete(close);
    await Promise.all(queues.map((queue) => queue.close()));
    for (const each of partitions.length > 1 ? partitions : []) await (await createTestRedis(each, target)).cleanup();
    await testRedis.cleanup();
    await testDb.drop();
  };
  const add = (events: QueuedEvent[], perJob: number) => addJobs(queues, events, perJob);
  scratches.add(close);
  return {
    db: testDb.db,
    prefix,
    partitions,
    redis: testRedis.redis,
    env: {
      NODE_ENV: "production",
      REDIS_URL,
      ...(onCluster
        ? { REDIS_CLUSTER_NODES: target.REDIS_CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(",") }
        : {}),
      MONGO_URL: testDb.url,
      REDIS_PREFIX: prefix,
      LEAD_PARTITIONS: String(partitions.length),
      LOG_LEVEL: "warn",
      WORKER_CONCURRENCY: args.concurrency,
    },
    queues,
    add,
    close,
  };
}

/** A worker process with its metrics on a free port; resolves once it is ready, with the port. */
async function startWorker(env: Record<string, string>): Promise<{ worker: RunningProcess; port: number }> {
  const profile = args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof"]}`] : [];
  const worker = startProcess(NODE_TS[0], [...profile, ...WORKER_ARGS], {
    ...env,
    LOG_LEVEL: "info",
    METRICS_PORT: "0",
  });
  const stop = () => worker.stop("SIGTERM", 60_000);
  running.add(stop);
  await worker.waitFor(/worker ready/, 10 * 60_000);
  return { worker, port: await loggedPort(worker, "worker metrics listening") };
}

async function stopWorker(worker: RunningProcess) {
  for (const stop of running) running.delete(stop);
  await worker.stop("SIGTERM", 60_000);
}

/** The store's floor: the same events as the worker stores them, `insertMany` 1,000 at a time, indexed as it is. */
async function rawInsert(db: Db, events: QueuedEvent[]): Promise<number> {
  const collection = db.collection<EventDocument>("raw_events");
  for (const spec of indexesFor(INDEXES.events, await readsUseIndexes(db))) {
    await collection.createIndex(spec.key, { name: spec.name });
  }
  const started = performance.now();
  for (let from = 0; from < events.length; from += 1000) {
    await collection.insertMany(
      events.slice(from, from + 1000).map((event) => ({
        _id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        timestamp: new Date(event.timestamp),
        received_at: new Date(event.received_at),
        metadata: event.metadata,
        points: 5,
        rule_id: "page_view",
        sort_key: keyOf(event),
      })),
    );
  }
  const rate = events.length / ((performance.now() - started) / 1000);
  await collection.drop();
  return rate;
}

/**
 * Records every `1 / share`-th lead id as merged into a lead of its own (`identities`, which the worker's start-up
 * rebuild lays out as the live identity map): its events are then resolved and stored under that lead.
 */
async function recordMerges(db: Db, leads: number, share: number): Promise<void> {
  if (!(share > 0)) return;
  const every = Math.max(1, Math.round(1 / share));
  const at = new Date();
  const docs: IdentityDocument[] = [];
  for (let lead = 0; lead < leads; lead += every) {
    docs.push({ _id: `lead-${lead}`, into: `known-${lead}`, kind: "identify", reason: null, at });
  }
  await db.collection<IdentityDocument>(COLLECTIONS.identities).insertMany(docs);
  console.log(`  ${fmt(docs.length)} of ${fmt(leads)} lead ids recorded as merged`);
}

/** The worker's histogram of acceptance → committed. */
const LAG = "leadscore_worker_lag_seconds";

interface MemoryFigures {
  liveBytes: number;
  leadHashBytes: number;
  indexBytes: number;
  leads: number;
  perLead: number;
  /** Bytes of the tail field per history entry it holds (sampled leads). */
  perEntry: number;
  tailEntries: number;
}

/** MEMORY USAGE of every live key, and the tail's bytes per entry over a sample of leads. */
async function liveMemory(redis: Redis, prefix: string): Promise<MemoryFigures> {
  const keys = liveKeys(prefix);
  const all: string[] = [];
  for (const server of await serversOf(redis)) {
    let cursor = "0";
    do {
      const [next, found] = await server.scan(cursor, "MATCH", keys.pattern, "COUNT", 5000);
      cursor = next;
      all.push(...found);
    } while (cursor !== "0");
  }
  let [leadHashBytes, indexBytes, liveBytes] = [0, 0, 0];
  const leadKeys: string[] = [];
  for (let from = 0; from < all.length; from += 1000) {
    const chunk = all.slice(from, from + 1000);
    const pipeline = redis.pipeline();
    for (const key of chunk) pipeline.call("MEMORY", "USAGE", key, "SAMPLES", "0");
    const replies = (await pipeline.exec()) ?? [];
    chunk.forEach((key, i) => {
      const bytes = Number(replies[i]?.[1] ?? 0);
      liveBytes += bytes;
      if (key.includes(":live:lead:")) {
        leadHashBytes += bytes;
        leadKeys.push(key);
      } else if (key.includes(":live:idx:")) indexBytes += bytes;
    });
  }
  const sample = leadKeys.filter((_, i) => i % Math.max(1, Math.floor(leadKeys.length / 2000)) === 0);
  let [tailBytes, tailEntries] = [0, 0];
  const pipeline = redis.pipeline();
  for (const key of sample) pipeline.hget(key, leadHashField("tail"));
  for (const [, tail] of (await pipeline.exec()) ?? []) {
    if (typeof tail !== "string" || tail === "") continue;
    tailBytes += Buffer.byteLength(tail);
    tailEntries += (JSON.parse(tail) as CompactEntry[]).length;
  }
  const leads = leadKeys.length;
  return {
    liveBytes,
    leadHashBytes,
    indexBytes,
    leads,
    perLead: (leadHashBytes + indexBytes) / Math.max(1, leads),
    perEntry: tailBytes / Math.max(1, tailEntries),
    tailEntries,
  };
}

/** The figures of every partition's live keys as one. */
function combinedMemory(parts: readonly MemoryFigures[]): MemoryFigures {
  if (parts.length === 1) return parts[0] as MemoryFigures;
  const total = (field: "liveBytes" | "leadHashBytes" | "indexBytes" | "leads" | "tailEntries") =>
    parts.reduce((sum, part) => sum + part[field], 0);
  const [leadHashBytes, indexBytes, leads, tailEntries] = [
    total("leadHashBytes"),
    total("indexBytes"),
    total("leads"),
    total("tailEntries"),
  ];
  return {
    liveBytes: total("liveBytes"),
    leadHashBytes,
    indexBytes,
    leads,
    perLead: (leadHashBytes + indexBytes) / Math.max(1, leads),
    perEntry: parts.reduce((sum, part) => sum + part.perEntry * part.tailEntries, 0) / Math.max(1, tailEntries),
    tailEntries,
  };
}

interface SizeResult {
  label: string;
  events: number;
  leads: number;
  raw: number;
  drain: number;
  drainSeconds: number;
  /** The worker process's CPU time per event drained, µs. */
  cpuPerEvent: number;
  /** The stores' CPU time per event drained, µs: Redis (`INFO cpu`, the whole server) and FerretDB (its process). */
  storesCpu: { redis: number | null; ferretdb: number | null };
  lag: { p50: number | null; p99: number | null; sent: number; rate: number; unscored: number };
  deep: {
    diverted: { pages: number; rescan: number };
    folded: Record<string, number>;
    waiting: number;
    pagesRead: { memory: number; store: number };
  };
  late: number;
  memory: MemoryFigures;
  historyPages: number;
  audit: string;
}

async function runSize(
  label: string,
  total: number,
  leads: number,
  rules: "plain" | "realistic" = "plain",
  halfLifeSeconds: number | null = null,
): Promise<SizeResult> {
  const realisticEvents = args.rules === "realistic";
  console.log(`\n${label}: ${fmt(total)} events over ${fmt(leads)} leads, ${rules} rules — generating…`);
  const next = createEvents({
    leads,
    seed: 1,
    zipf: Number(args.zipf),
    late: Number(args.late),
    realistic: realisticEvents,
  });
  const seededAt = Date.now();
  const events = Array.from({ length: total }, () => next(seededAt));
  const space = await scratch(label.replace(/\W+/g, "-"));
  let worker: RunningProcess | undefined;
  try {
    if (rules === "realistic") await putRuleSet(space.db, REALISTIC_RULES, "bench");
    if (halfLifeSeconds !== null) {
      await writeScoringSettings(space.db, { half_life_seconds: halfLifeSeconds }, new Date());
    }
    await recordMerges(space.db, leads, Number(args.merged));
    console.log(`  raw insertMany of the same ${fmt(total)} events…`);
    const raw = await rawInsert(space.db, events);
    console.log(`    ${fmt(raw)} docs/s`);

    const perJob = Number(args.job);
    await Promise.all(space.queues.map((queue) => queue.pause()));
    let jobs = 0;
    for (let from = 0; from < total; from += perJob * 200) {
      jobs += await space.add(events.slice(from, Math.min(total, from + perJob * 200)), perJob);
    }
    console.log(`  seeded ${fmt(jobs)} jobs of ${perJob}; starting one worker process…`);
    const launched = await startWorker(space.env);
    worker = launched.worker;
    const port = launched.port;
    const cpuBefore = sumOf(await metricsOf(port), "process_cpu_seconds_total") ?? 0;
    const storesBefore = await storesCpuSeconds(space.redis);
    // removeOnComplete: count completions through the worker's own metrics instead of Bull's completed set.
    const started = performance.now();
    await Promise.all(space.queues.map((queue) => queue.resume()));
    const finished = await waitScoredByMetrics({
      redis: space.redis,
      partitions: space.partitions,
      queues: space.queues,
      worker,
      port,
      jobs,
    });
    const seconds = (finished - started) / 1000;
    const cpu = (sumOf(await metricsOf(port), "process_cpu_seconds_total") ?? 0) - cpuBefore;
    const storesAfter = await storesCpuSeconds(space.redis);
    const perEvent = (before: number | null, after: number | null) =>
      before === null || after === null ? null : ((after - before) * 1e6) / total;
    const storesCpu = {
      redis: perEvent(storesBefore.redis, storesAfter.redis),
      ferretdb: perEvent(storesBefore.ferretdb, storesAfter.ferretdb),
    };
    const drain = total / seconds;
    const us = (value: number | null) => (value === null ? "–" : fmt(value));
    console.log(
      `    drained in ${seconds.toFixed(1)} s: ${fmt(drain)} events/s (CPU µs/event: worker ${fmt((cpu * 1e6) / total)}, ` +
        `Redis ${us(storesCpu.redis)}, FerretDB ${us(storesCpu.ferretdb)})`,
    );

    const counted = await countFolded(space);
    if (counted !== total) throw new Error(`the live state folded ${counted} events, expected ${total}`);
    const afterDrain = await metricsOf(port);
    const memory = combinedMemory(await Promise.all(space.partitions.map((each) => liveMemory(space.redis, each))));
    const historyPages = await space.db.collection(COLLECTIONS.historyPages).estimatedDocumentCount();

    // Lag at a fixed rate, on the state the drain built.
    const rate = Number(args.rate ?? Math.max(10, Math.round(drain / 2)));
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const lagStart = performance.now();
    let sent = 0;
    for (let tick = 0; performance.now() - lagStart < Number(args.seconds) * 1000; tick += 1) {
      const wait = lagStart + tick * tickMs - performance.now();
      if (wait > 0) await sleep(wait);
      const now = Date.now();
      await space.add(
        Array.from({ length: perTick }, () => next(now)),
        perTick,
      );
      sent += perTick;
    }
    const sentAt = performance.now();
    // Settled once every event sent is in the lag histogram: an event the deep lane holds is scored after its job.
    let after = await metricsOf(port);
    let lagged = histogramSince(histogramOf(after, LAG), histogramOf(afterDrain, LAG));
    while (lagged.count < sent && performance.now() - sentAt < Number(args.settle) * 1000) {
      await sleep(100);
      after = await metricsOf(port);
      lagged = histogramSince(histogramOf(after, LAG), histogramOf(afterDrain, LAG));
    }
    const toMs = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
    const lag = {
      p50: toMs(histogramQuantile(lagged, 0.5, sent)),
      p99: toMs(histogramQuantile(lagged, 0.99, sent)),
      sent,
      rate: sent / ((sentAt - lagStart) / 1000),
      unscored: sent - lagged.count,
    };
    const deep = {
      diverted: {
        pages: labelled(after, "leadscore_worker_deep_lane_diverted_total", "reason", "pages"),
        rescan: labelled(after, "leadscore_worker_deep_lane_diverted_total", "reason", "rescan"),
      },
      folded: Object.fromEntries(
        ["memory", "pages", "rescan"].map((read) => [
          read,
          labelled(after, "leadscore_worker_deep_lane_folded_total", "read", read),
        ]),
      ),
      waiting: sumOf(after, "leadscore_worker_deep_lane_waiting") ?? 0,
      pagesRead: {
        memory: labelled(after, "leadscore_worker_deep_lane_pages_read_total", "from", "memory"),
        store: labelled(after, "leadscore_worker_deep_lane_pages_read_total", "from", "store"),
      },
    };
    const late = sumOf(after, "leadscore_worker_late_events_total") ?? 0;
    await stopWorker(worker);
    worker = undefined;

    let audit = "not run (--audit)";
    if (args.audit || label.startsWith("small")) {
      const report = await auditLiveState({
        db: space.db,
        redis: space.redis,
        redisPrefix: space.prefix,
        partitions: space.partitions.length,
        cap: DEFAULT_SCORE_CAP,
        thresholds: DEFAULT_STAGE_THRESHOLDS,
        halfLifeSeconds,
      });
      audit = `${fmt(report.events)} events, ${fmt(report.leads)} leads: ${report.problems.length} problems`;
      if (report.problems.length > 0) audit += ` (${report.problems.slice(0, 3).join("; ")})`;
    }
    return {
      label,
      events: total,
      leads,
      raw,
      drain,
      drainSeconds: seconds,
      cpuPerEvent: (cpu * 1e6) / total,
      storesCpu,
      lag,
      deep,
      late,
      memory,
      historyPages,
      audit,
    };
  } finally {
    if (worker) await stopWorker(worker);
    await space.close();
  }
}

/**
 * CPU seconds the stores have used: Redis's own count (`INFO cpu`, the server the bench's connection reaches; null on
 * a cluster) and the local FerretDB process's (`/proc`, null when none runs here, e.g. a remote MONGO_URL).
 */
async function storesCpuSeconds(redis: Redis): Promise<{ redis: number | null; ferretdb: number | null }> {
  let redisSeconds: number | null = null;
  if (target.REDIS_CLUSTER_NODES.length === 0) {
    const info = await redis.info("cpu");
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? Number.NaN);
    const total = field("used_cpu_user") + field("used_cpu_sys");
    if (Number.isFinite(total)) redisSeconds = total;
  }
  let ferretdb: number | null = null;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (!/(^|\/)ferretdb[^/]*$/.test(command)) continue;
      // Fields 14 and 15 (utime, stime) in clock ticks, after the command name in parentheses.
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      ferretdb = (ferretdb ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // The process ended while listed, or /proc is not Linux's.
    }
  }
  return { redis: redisSeconds, ferretdb };
}

/** The events the live state folded: the sum of every lead's count. */
function countFolded(space: Scratch): Promise<number> {
  return createPartitionedReader({
    redis: space.redis,
    redisPrefix: space.prefix,
    partitions: space.partitions.length,
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
  }).foldedEvents();
}

const storeCpu = (before: number | null, after: number | null) =>
  before === null || after === null ? "–" : `${fmt(before)} → ${fmt(after)} µs/event`;

function print(results: SizeResult[]) {
  const ms = (value: number | null) => (value === null ? "–" : `${fmt(value)} ms`);
  console.log("\nworker bench (one worker process; the store of MONGO_URL; Redis of REDIS_URL)");
  console.log(
    `| size | drain events/s | raw insertMany docs/s | drain / raw | lag p50 | lag p99 (at events/s) | deep lane: diverted pages / rescan, folded memory / pages / rescan, pages read memory / store | late events | Redis per lead | per history entry | live keys total |`,
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    const d = r.deep;
    console.log(
      `| ${r.label}: ${fmt(r.events)} events / ${fmt(r.leads)} leads | ${fmt(r.drain)} (${r.drainSeconds.toFixed(1)} s) | ${fmt(r.raw)} | ` +
        `${(r.drain / r.raw).toFixed(2)}× | ${ms(r.lag.p50)} | ${ms(r.lag.p99)} (${fmt(r.lag.rate)}/s${r.lag.unscored > 0 ? `, ${fmt(r.lag.unscored)} unscored` : ""}) | ` +
        `${fmt(d.diverted.pages)} / ${fmt(d.diverted.rescan)}, ${fmt(d.folded.memory ?? 0)} / ${fmt(d.folded.pages ?? 0)} / ${fmt(d.folded.rescan ?? 0)}, ${fmt(d.pagesRead.memory)} / ${fmt(d.pagesRead.store)} | ` +
        `${fmt(r.late)} | ${fmt(r.memory.perLead)} B | ${fmt(r.memory.perEntry)} B | ${(r.memory.liveBytes / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
  for (const r of results) {
    console.log(
      `  ${r.label}: lead hashes ${(r.memory.leadHashBytes / 2 ** 20).toFixed(1)} MiB + indexes ` +
        `${(r.memory.indexBytes / 2 ** 20).toFixed(1)} MiB over ${fmt(r.memory.leads)} leads (MEMORY USAGE of every ` +
        `live key); ${fmt(r.historyPages)} history pages in MongoDB; audit: ${r.audit}`,
    );
  }
  const small = results.find((r) => r.label === "small");
  const large = results.find((r) => r.label === "large");
  if (small && large) {
    console.log(
      `  large / small drain: ${(large.drain / small.drain).toFixed(2)}× (target ≥ 0.8×, and ≥ 5,000 events/s at the large size)`,
    );
  }
  for (const onCluster of results.filter((r) => r.label.includes(" cluster"))) {
    const single = results.find((r) => r.label === onCluster.label.replace(" cluster", " single"));
    if (!single) continue;
    console.log(
      `  ${onCluster.label} / ${single.label} drain: ${(onCluster.drain / single.drain).toFixed(2)}×; ` +
        `worker CPU ${fmt(single.cpuPerEvent)} → ${fmt(onCluster.cpuPerEvent)} µs/event`,
    );
  }
  for (const plain of results.filter((r) => r.label.endsWith(" plain"))) {
    const realistic = results.find((r) => r.label === plain.label.replace(/ plain$/, " realistic"));
    if (!realistic) continue;
    console.log(
      `  ${realistic.label} / ${plain.label} drain: ${(realistic.drain / plain.drain).toFixed(2)}× (target ≥ 0.8×); ` +
        `worker CPU ${fmt(plain.cpuPerEvent)} → ${fmt(realistic.cpuPerEvent)} µs/event` +
        `, Redis ${storeCpu(plain.storesCpu.redis, realistic.storesCpu.redis)}` +
        `, FerretDB ${storeCpu(plain.storesCpu.ferretdb, realistic.storesCpu.ferretdb)}`,
    );
  }
}

async function main() {
  const results: SizeResult[] = [];
  if (args.rules !== "plain" && args.rules !== "realistic") {
    throw new Error(`--rules is plain or realistic (got ${args.rules})`);
  }
  const cluster = args["redis-cluster"] ? await startRedisCluster(args["redis-cluster"].split(",").map(Number)) : null;
  try {
    await runAll(results, cluster);
  } finally {
    await cluster?.stop();
  }
}

/**
 * Every size, and with --redis-cluster each size twice in the same run: on REDIS_URL, then on the local cluster (one
 * partition), with the ratio of their drains.
 */
async function runAll(results: SizeResult[], cluster: LocalRedisCluster | null) {
  const single = target;
  // With --rules realistic, each size runs twice on the same events: the default rules, then the realistic set.
  const runOnce = async (label: string, events: number, leads: number) => {
    const halfLife = args["half-life"] === undefined ? null : Number(args["half-life"]);
    if (halfLife !== null) {
      const rules = args.rules as "plain" | "realistic";
      results.push(await runSize(`${label} no decay`, events, leads, rules));
      results.push(await runSize(`${label} half-life ${halfLife} s`, events, leads, rules, halfLife));
      return;
    }
    if (args.rules === "plain") return void results.push(await runSize(label, events, leads));
    results.push(await runSize(`${label} plain`, events, leads, "plain"));
    results.push(await runSize(`${label} realistic`, events, leads, "realistic"));
  };
  const run = async (label: string, events: number, leads: number) => {
    if (!cluster) return runOnce(label, events, leads);
    target = single;
    await runOnce(`${label} single`, events, leads);
    target = { REDIS_URL, REDIS_CLUSTER_NODES: cluster.nodes };
    await runOnce(`${label} cluster`, events, leads);
    target = single;
  };
  if (args.events || args.leads) {
    await run("custom", Number(args.events ?? 10_000), Number(args.leads ?? 1_000));
  } else {
    // The large size runs after the small one, so the ratio of their drains comes from one run.
    if (args.size !== "small" && args.size !== "large") throw new Error(`--size is small or large (got ${args.size})`);
    const sizes: (keyof typeof SIZES)[] = args.size === "small" ? ["small"] : ["small", "large"];
    for (const size of sizes) {
      const spec = SIZES[size];
      await run(size, spec.events, spec.leads);
      print(results);
    }
    return;
  }
  print(results);
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
