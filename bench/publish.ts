// Retroactive publish benchmark: the rate at which a worker re-scores every lead after a retroactive publish, beside
// the rate at which the same worker drained the same events when they arrived (bench:worker's drain, measured first in
// the same run), while live traffic keeps arriving at --rate events/s; the live events' acceptance → scored lag over
// the re-score; and the audit afterwards (every lead the fold of its events under the new version).
//
//   npm run bench:publish                                   # 20k events over 2k leads, 100 events/s live
//   npm run bench:publish -- --events 1000000 --leads 100000 --rate 1000
//
// One worker process (worker/src/main.ts, metrics on a free port), a database and key prefix of its own, dropped
// afterwards. The draft published doubles demo_request's points; its rules read no metadata, so the re-score reads
// the live state (tails, pages by `_id`), not the `events` collection.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { DEFAULT_RULES, DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS, type QueuedEvent } from "@leadscore/contracts";
import { auditLiveState } from "@leadscore/live/audit";
import {
  createQueue,
  EVENTS_QUEUE,
  type EventsJob,
  publishRuleSet,
  readCurrentRescore,
  readRuleSet,
  rulesChannel,
  seedDefaultRules,
  startRescore,
} from "@leadscore/runtime";
import {
  histogramOf,
  histogramQuantile,
  histogramSince,
  parsePrometheus,
  type Sample,
} from "@leadscore/runtime/prometheus";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { loggedPort, NODE_TS, startProcess, WORKER_ARGS } from "../test-support/processes.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    leads: { type: "string", default: "2000" },
    rate: { type: "string", default: "100" },
    /** Seconds of live traffic alone before the publish. */
    baseline: { type: "string", default: "15" },
    job: { type: "string", default: "100" },
    seed: { type: "string", default: "11" },
    /** Events the audit reads in one go; above it, in ranges of lead ids. */
    "audit-whole": { type: "string", default: "200000" },
  },
});

const LAG = "leadscore_worker_lag_seconds";
const TYPES = DEFAULT_RULES.map((rule) => rule.event_type);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const load = () => loadavg()[0]?.toFixed(1);

async function metricsOf(port: number): Promise<Sample[]> {
  return parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}
function lagText(lagged: ReturnType<typeof histogramOf>, sent: number): string {
  const ms = (q: number) => {
    const seconds = histogramQuantile(lagged, q, sent);
    return seconds === null ? "—" : `${fmt(seconds * 1000)} ms`;
  };
  return `p50 ${ms(0.5)}, p99 ${ms(0.99)}`;
}
const scoredOf = (samples: Sample[]) =>
  samples.find((sample) => sample.name === "leadscore_worker_events_scored_total")?.value ?? 0;

async function main() {
  const total = Number(args.events);
  const leads = Number(args.leads);
  const random = createRandom(Number(args.seed));
  const testDb = await createTestDb(uniqueName("bench-publish"));
  const prefix = uniqueName("bench-publish");
  const testRedis = await createTestRedis(prefix);
  const queue = createQueue<EventsJob>(EVENTS_QUEUE, { REDIS_URL, REDIS_CLUSTER_NODES: [] }, { prefix });
  const env = {
    NODE_ENV: "production",
    REDIS_URL,
    MONGO_URL: testDb.url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: "info",
    METRICS_PORT: "0",
  };
  const worker = startProcess(NODE_TS[0], WORKER_ARGS, env);
  let n = 0;
  const next = (now: number): QueuedEvent => {
    const i = n++;
    return {
      event_id: `e${i}`,
      lead_id: `lead-${Math.floor(random() * leads)}`,
      event_type: TYPES[Math.floor(random() * TYPES.length)] as string,
      timestamp: now - Math.floor(random() * 30 * 86_400_000),
      received_at: now,
      metadata: { path: `/p/${i % 50}` },
    };
  };
  try {
    await seedDefaultRules(testDb.db);
    await worker.waitFor(/worker ready/, 10 * 60_000);
    const port = await loggedPort(worker, "worker metrics listening");
    console.log(`${fmt(total)} events over ${fmt(leads)} leads, live traffic ${args.rate}/s; load ${load()}`);

    // The drain: every event queued first, then scored by the worker.
    await queue.pause();
    const perJob = Number(args.job);
    const now = Date.now();
    for (let from = 0; from < total; from += perJob * 200) {
      const batch = [];
      for (let j = from; j < Math.min(total, from + perJob * 200); j += perJob) {
        const events = Array.from({ length: Math.min(perJob, total - j) }, () => next(now));
        batch.push({ data: { v: 1 as const, events }, opts: { removeOnComplete: true, attempts: 5 } });
      }
      await queue.addBulk(batch);
    }
    const drainStart = performance.now();
    await queue.resume();
    while (scoredOf(await metricsOf(port)) < total) await sleep(200);
    const drain = total / ((performance.now() - drainStart) / 1000);
    console.log(`  drain: ${fmt(drain)} events/s; load ${load()}`);

    // Live traffic alone first, for the lag it has without a re-score.
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((Number(args.rate) * tickMs) / 1000));
    const sendLive = async (start: number, tick: number) => {
      const wait = start + tick * tickMs - performance.now();
      if (wait > 0) await sleep(wait);
      const at = Date.now();
      await queue.add(
        { v: 1, events: Array.from({ length: perTick }, () => next(at)) },
        { removeOnComplete: true, attempts: 5 },
      );
      return perTick;
    };
    const alone = await metricsOf(port);
    const aloneStart = performance.now();
    let aloneSent = 0;
    for (let tick = 0; performance.now() - aloneStart < Number(args.baseline) * 1000; tick += 1) {
      aloneSent += await sendLive(aloneStart, tick);
    }
    while (scoredOf(await metricsOf(port)) < total + aloneSent) await sleep(200);
    const aloneLag = histogramSince(histogramOf(await metricsOf(port), LAG), histogramOf(alone, LAG));
    console.log(`  live traffic alone: ${fmt(aloneSent)} events, acceptance → scored ${lagText(aloneLag, aloneSent)}`);

    // The re-score, with live traffic meanwhile.
    const before = await metricsOf(port);
    const current = await readRuleSet(testDb.db);
    const rules = current.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
    const store = { db: testDb.db, redis: testRedis.redis, redisPrefix: prefix };
    const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
    const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
    await testRedis.redis.publish(
      rulesChannel(prefix),
      JSON.stringify({ change: "published", rules_version: version }),
    );
    const published = performance.now();
    const job = await startRescore(testRedis.redis, prefix, { version, webhooks: "suppress" }, Date.now());
    let sent = 0;
    let state = await readCurrentRescore(testRedis.redis, prefix);
    for (let tick = 0; state?.state === "queued" || state?.state === "running"; tick += 1) {
      sent += await sendLive(published, tick);
      if (tick % 25 === 0) state = await readCurrentRescore(testRedis.redis, prefix);
    }
    if (state?.id !== job.id || state.state !== "done") throw new Error(`the re-score ended ${state?.state}`);
    const sentFor = (performance.now() - published) / 1000;
    while (scoredOf(await metricsOf(port)) < total + aloneSent + sent) await sleep(200);
    const lagged = histogramSince(histogramOf(await metricsOf(port), LAG), histogramOf(before, LAG));
    const { events_total, leads_total, leads_changed } = state.progress;
    const workerRss = (await metricsOf(port)).find((sample) => sample.name === "process_resident_memory_bytes")?.value;
    // The re-score's own time: from when a worker took it up to its end.
    const began = state.started_at ?? job.created_at;
    const rescoreSeconds = ((state.finished_at ?? Date.now()) - began) / 1000;
    const rate = events_total / rescoreSeconds;
    console.log(
      `  re-score: ${fmt(leads_total)} leads, ${fmt(events_total)} events in ${rescoreSeconds.toFixed(1)} s: ` +
        `${fmt(rate)} events/s = ${(rate / drain).toFixed(2)}× the drain; ${fmt(leads_changed)} leads changed; ` +
        `worker RSS ${fmt((workerRss ?? 0) / 2 ** 20)} MB; load ${load()}`,
    );
    console.log(
      `  live traffic meanwhile: ${fmt(sent)} events at ${fmt(sent / sentFor)}/s, acceptance → scored ` +
        lagText(lagged, sent),
    );
    // The audit holds the events of the leads it reads: past --audit-whole events, ten ranges of lead ids in turn
    // (`lead-0…`, …, `lead-9…`), so its memory stays that of a tenth of them.
    const ranges =
      total + aloneSent + sent <= Number(args["audit-whole"])
        ? [undefined]
        : Array.from({ length: 10 }, (_, d) => ({ gte: `lead-${d}`, lt: d === 9 ? "lead-:" : `lead-${d + 1}` }));
    const audit = { leads: 0, events: 0, problems: [] as string[] };
    for (const leadIds of ranges) {
      const report = await auditLiveState({
        db: testDb.db,
        redis: testRedis.redis,
        redisPrefix: prefix,
        cap: DEFAULT_SCORE_CAP,
        thresholds: DEFAULT_STAGE_THRESHOLDS,
        ...(leadIds && { leadIds }),
      });
      audit.leads += report.leads;
      audit.events += report.events;
      audit.problems.push(...report.problems);
    }
    console.log(
      `  audit: ${audit.leads} leads, ${audit.events} events, ${audit.problems.length} problems; ` +
        `peak RSS of the bench ${fmt(process.resourceUsage().maxRSS / 1024)} MB`,
    );
    for (const problem of audit.problems.slice(0, 5)) console.log(`    ${problem}`);
  } finally {
    await worker.stop("SIGTERM", 60_000);
    await queue.close();
    await testRedis.cleanup();
    await testDb.drop();
  }
}

await main();
