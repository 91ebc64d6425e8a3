// Drives one scenario open-loop against a stack (its own, or a deployment given by URL), watches it live, waits for
// the queue to drain, audits the live state (Redis) against the durable record (MongoDB) and writes the report.
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { promisify } from "node:util";
import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS, mongoDatabaseName } from "@leadscore/contracts";
import { createLiveReader, leadHashField, liveKeys } from "@leadscore/live";
import { EVENTS_QUEUE } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";
import { pageCounts, pageCountsLine } from "../../test-support/page-counts.ts";
import { NODE_TS, ROOT } from "../../test-support/processes.ts";
import { createRunId, runIdRange } from "../src/payloads.ts";
import {
  ENDPOINT_ROUTES,
  type Endpoint,
  type EventOutcome,
  expectedStatuses,
  interpretResponse,
  type PlannedRequest,
} from "../src/requests.ts";
import {
  type LoadProfile,
  profileDurationSeconds,
  SCENARIOS,
  type Scenario,
  scheduledBy,
  type Targets,
  withOverrides,
} from "../src/scenarios.ts";
import { createRequestPlanner } from "../src/workloads.ts";
import type { CliOptions } from "./args.ts";
import { type AuditResult, auditRun } from "./audit.ts";
import { createHttpSender, type SendResult } from "./http-sender.ts";
import { createLagProbe, type LagProbe, type LagSummary } from "./lag-probe.ts";
import { createLedger, type Ledger } from "./ledger.ts";
import { createBullDepthReader, createMetricsDepthReader, firstAvailable, type QueueDepthReader } from "./metrics.ts";
import { createOpenLoop, type OpenLoop, type OpenLoopResult } from "./open-loop.ts";
import { awaitPageSweep, PAGE_SWEEP_WAIT_MS } from "./page-sweep.ts";
import type { EndpointReport, LoadReport, ThresholdResult, TimelinePoint } from "./report.ts";
import { type LocalStack, startLocalStack } from "./stack.ts";
import { createLatencyRecorder, type LatencyRecorder, roundMs } from "./stats.ts";
import { readWorkerLag, type WorkerLagSummary, workerLagSummary } from "./worker-lag.ts";

/** A run takes the command line's options (args.ts) but where the report goes and how strictly it is judged. */
export interface LoadOptions extends Omit<CliOptions, "outDir" | "strict"> {
  /** Progress and notes (one line each); the summary line is the caller's to print. */
  log: (line: string) => void;
  /** Receives what the self-started stack's processes printed (warnings and errors), just before it stops. */
  onStackOutput?: (output: string) => void;
}

interface EndpointTally {
  requests: number;
  events: number;
  failed: number;
  latency: LatencyRecorder;
  statuses: Map<string, number>;
}

const lagNote = (widestPollMs: number) =>
  "Lag: for a sample of accepted in-order events (≤ 50 a second, 10 on its own stack; late ones are checked by the audit), the time from their 202 arriving here to the first " +
  `poll of the live state in Redis that finds them — an upper bound, at most one poll interval high (polls every 50 ms, ` +
  `stretched while the server is slow to answer: at most ${widestPollMs} ms apart in this run).`;

function increment(map: Map<string, number>, key: string, by = 1) {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** The live state a run reads: the deployment's Redis and key prefix. */
interface Live {
  redis: Redis;
  prefix: string;
}

async function warmUp(baseUrl: string, writeKey: string, runId: string, live: Live | null, log: LoadOptions["log"]) {
  const eventId = `warmup.${runId}`;
  const response = await fetch(`${baseUrl}/api/events`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${writeKey}` },
    body: JSON.stringify({ event_id: eventId, lead_id: `warmup.${runId}`, event_type: "page_view" }),
  });
  if (response.status !== 202 && response.status !== 200) {
    throw new Error(`warm-up event answered ${response.status}: ${await response.text()}`);
  }
  if (!live) return;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (Number(await live.redis.hget(liveKeys(live.prefix).lead(`warmup.${runId}`), leadHashField("count"))) >= 1) {
      log("warm-up event scored: edge → queue → worker → live state works");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the warm-up event was not scored within 60 s: is a worker running?");
}

/** Events folded into the live state for the run's leads (the sum of their counts); null while any of them waits for the deep lane. */
async function foldedForRun(live: Live, range: { gte: string; lt: string }): Promise<number | null> {
  if ((await live.redis.hlen(liveKeys(live.prefix).deep)) > 0) return null;
  const reader = createLiveReader({
    redis: live.redis,
    redisPrefix: live.prefix,
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
  });
  return reader.foldedEvents((id) => id >= range.gte && id < range.lt);
}

function resolveProfile(options: LoadOptions): LoadProfile {
  const scenario = SCENARIOS[options.scenario];
  return withOverrides(options.ci ? scenario.ci : scenario.profile, {
    rate: options.rate,
    durationSeconds: options.durationSeconds,
  });
}

/** What a run holds open, closed by `runLoad` whatever happened. */
interface Held {
  stack: LocalStack | null;
  mongo: MongoClient | null;
  redis: Redis | null;
}

/** The system under load and what the run reads of it. */
interface LoadTarget {
  stack: LocalStack | null;
  baseUrl: string;
  /** The durable record, when the run audits. */
  db: Db | null;
  /** The live state, when the run measures lag and audits. */
  live: Live | null;
  depth: QueueDepthReader;
}

/**
 * Starts a private stack unless a deployment's URL is given, and connects to what lag, drain and audit read of it.
 * Everything opened goes into `held` as soon as it is open.
 */
async function connectTarget(options: LoadOptions, ingestOnly: boolean, held: Held): Promise<LoadTarget> {
  if (!options.baseUrl) {
    held.stack = await startLocalStack({
      workers: options.workers,
      writeKey: options.writeKey,
      scoreCap: options.scoreCap,
      log: options.log,
    });
  }
  const { stack } = held;
  const baseUrl = options.baseUrl ?? (stack as LocalStack).baseUrl;
  const mongoUrl = ingestOnly ? undefined : (stack?.mongoUrl ?? options.mongoUrl);
  let db: Db | null = null;
  if (mongoUrl) {
    held.mongo = new MongoClient(mongoUrl);
    await held.mongo.connect();
    db = held.mongo.db(mongoDatabaseName(mongoUrl));
  }
  const redisUrl = ingestOnly ? undefined : (stack?.redisUrl ?? options.redisUrl);
  const prefix = stack?.redisPrefix ?? options.redisPrefix;
  if (redisUrl) held.redis = new Redis(redisUrl);
  // Lag and audit read the live state and the durable record both.
  const live: Live | null = held.redis && db ? { redis: held.redis, prefix } : null;
  // The edge's own figure first; the Bull lists in Redis when the edge exports none.
  const depthReaders: QueueDepthReader[] = [createMetricsDepthReader(`${baseUrl}/metrics`, options.metricsToken)];
  if (stack) {
    held.redis ??= new Redis(stack.redisUrl);
    depthReaders.push(createBullDepthReader(held.redis, stack.redisPrefix, EVENTS_QUEUE));
  }
  return { stack, baseUrl, db, live, depth: firstAvailable(depthReaders) };
}

/** The highest queue depth read so far, by whoever reads it. */
function createPeak() {
  let peak: number | null = null;
  return {
    observe(depth: number) {
      peak = Math.max(peak ?? 0, depth);
    },
    get value() {
      return peak;
    },
  };
}

/**
 * The run's tallies of answers: overall, per endpoint, per event outcome (each event also into the ledger and, when
 * in order, offered to the lag probe), the errors, and the current second's window.
 */
function createTally(ledger: Ledger, lagProbe: LagProbe | null) {
  const overall = createLatencyRecorder(1 << 16);
  const windowLatency = createLatencyRecorder();
  const endpoints = new Map<Endpoint, EndpointTally>();
  const outcomes: Record<EventOutcome | "sent", number> = {
    sent: 0,
    accepted: 0,
    duplicate: 0,
    rejected: 0,
    delivered: 0,
    error: 0,
  };
  const errorsByStatus = new Map<string, number>();
  const errorSamples: string[] = [];
  let failed = 0;
  let windowRequests = 0;
  let windowFailed = 0;

  const endpointTally = (endpoint: Endpoint) => {
    let tally = endpoints.get(endpoint);
    if (!tally) {
      tally = { requests: 0, events: 0, failed: 0, latency: createLatencyRecorder(), statuses: new Map() };
      endpoints.set(endpoint, tally);
    }
    return tally;
  };

  return {
    overall,
    endpoints,
    outcomes,
    errorsByStatus,
    errorSamples,
    get failed() {
      return failed;
    },
    record(request: PlannedRequest, result: SendResult) {
      const { outcomes: eventOutcomes } = interpretResponse(request, result.status, result.body);
      const tally = endpointTally(request.endpoint);
      tally.requests += 1;
      tally.events += request.events.length;
      tally.latency.record(result.durationMs);
      increment(tally.statuses, String(result.status));
      overall.record(result.durationMs);
      windowLatency.record(result.durationMs);
      windowRequests += 1;
      if (!expectedStatuses(request).includes(result.status)) {
        failed += 1;
        windowFailed += 1;
        tally.failed += 1;
        const label = result.status === 0 ? "no response" : String(result.status);
        increment(errorsByStatus, `${ENDPOINT_ROUTES[request.endpoint]} → ${label}`);
        const sample = `${ENDPOINT_ROUTES[request.endpoint]} → ${label}: ${(result.error ?? result.body ?? "").slice(0, 200)}`;
        if (errorSamples.length < 10 && !errorSamples.includes(sample)) errorSamples.push(sample);
      }
      request.events.forEach((planned, index) => {
        const outcome = eventOutcomes[index] ?? "error";
        outcomes.sent += 1;
        outcomes[outcome] += 1;
        ledger.record(planned.event.event_id, planned.leadRank, planned.kind, outcome);
        // Late events are slotted into the lead's past, where a look at its newest entries cannot see them; the
        // audit checks that each is scored. The lag is sampled on the in-order ones.
        if (outcome === "accepted" && planned.kind === "fresh" && lagProbe)
          lagProbe.offer(planned.event.event_id, planned.event.lead_id, result.completedAt);
      });
    },
    /** The current second's requests, failures and p99, then a fresh window. */
    takeWindow() {
      const window = { requests: windowRequests, failed: windowFailed, p99Ms: roundMs(windowLatency.summary().p99) };
      windowLatency.reset();
      windowRequests = 0;
      windowFailed = 0;
      return window;
    },
  };
}
type Tally = ReturnType<typeof createTally>;

/**
 * Once a second while the load runs: a timeline point (and with `progress`, a line of it), with the queue depth last
 * read (reads run in the background, one at a time).
 */
function startTimeline(options: {
  scenario: Scenario;
  profile: LoadProfile;
  loop: OpenLoop;
  tally: Tally;
  depth: QueueDepthReader;
  peak: ReturnType<typeof createPeak>;
  lagProbe: LagProbe | null;
  progress: boolean;
  log: LoadOptions["log"];
}) {
  const { profile, loop, tally, depth, peak, lagProbe } = options;
  const timeline: TimelinePoint[] = [];
  const totalSeconds = profileDurationSeconds(profile);
  let lastDropped = 0;
  let lastDepth: number | null = null;
  let depthReading = false;
  let second = 0;
  const ticker = setInterval(() => {
    second += 1;
    if (!depthReading) {
      depthReading = true;
      depth
        .read()
        .then((value) => {
          lastDepth = value?.depth ?? null;
          if (value) peak.observe(value.depth);
        })
        .finally(() => {
          depthReading = false;
        });
    }
    const window = tally.takeWindow();
    const point: TimelinePoint = {
      second,
      scheduled: Math.round(scheduledBy(profile, second) - scheduledBy(profile, second - 1)),
      requests: window.requests,
      failed: window.failed,
      dropped: loop.dropped - lastDropped,
      p99Ms: window.p99Ms,
      inFlight: loop.inFlight,
      queueDepth: lastDepth,
    };
    timeline.push(point);
    lastDropped = loop.dropped;
    if (options.progress) {
      const lagP99 = lagProbe?.currentP99();
      options.log(
        `[${options.scenario.name} ${second}s/${Math.round(totalSeconds)}s] rps=${point.requests} target=${point.scheduled} errors=${point.failed} dropped=${point.dropped} inflight=${point.inFlight} p99=${point.p99Ms}ms ` +
          `queue=${point.queueDepth ?? "?"} lag_p99=${lagP99 !== undefined && Number.isFinite(lagP99) ? `${roundMs(lagP99)}ms` : "–"}`,
      );
    }
  }, 1000);
  return { timeline, stop: () => clearInterval(ticker) };
}

/**
 * Waits for the run's events to be scored: the queue empties, no lead waits for the deep lane, and the events folded
 * for the run stop growing (or reach every accepted event). Resolves with the seconds it took, or null when it did
 * not drain within `timeoutSeconds`.
 */
async function drain(options: {
  depth: QueueDepthReader;
  peak: ReturnType<typeof createPeak>;
  live: Live | null;
  range: { gte: string; lt: string };
  ledger: Ledger;
  timeoutSeconds: number;
  progress: boolean;
  log: LoadOptions["log"];
}): Promise<number | null> {
  const { depth, live } = options;
  const drainStart = performance.now();
  let expectedScored = 0;
  for (const entry of options.ledger.entries()) if (entry.expectation === "present") expectedScored += 1;
  let lastScored = -1;
  let stableSince = performance.now();
  while ((performance.now() - drainStart) / 1000 < options.timeoutSeconds) {
    const reading = await depth.read();
    if (reading) options.peak.observe(reading.depth);
    const scored = live ? await foldedForRun(live, options.range) : null;
    const deepBusy = live !== null && scored === null;
    if (scored !== lastScored) {
      lastScored = scored ?? -1;
      stableSince = performance.now();
    }
    if (options.progress) {
      const jobs = reading?.pendingJobs ?? null;
      options.log(
        `[drain] queue=${reading?.depth ?? "?"} jobs=${jobs ?? "?"} scored=${scored ?? "?"}/${expectedScored}`,
      );
    }
    // Unknown depth counts as empty: the count of folded events then decides.
    const queueEmpty = reading === null || (reading.pendingJobs ?? reading.depth) === 0;
    const settled = scored === null || scored >= expectedScored || performance.now() - stableSince > 3000;
    if (queueEmpty && !deepBusy && settled) return (performance.now() - drainStart) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return null;
}

/**
 * A rebuild of the stack's live state (`npm run rebuild`, beside its running workers), then its history pages: right
 * after it, and once the workers' sweep has emptied the retired set.
 */
async function rebuildAndCountPages(stack: LocalStack, db: Db, redis: Redis, log: (line: string) => void) {
  const [node, ...flags] = NODE_TS;
  const env = { ...process.env, REDIS_URL: stack.redisUrl, MONGO_URL: stack.mongoUrl, REDIS_PREFIX: stack.redisPrefix };
  const started = performance.now();
  const { stdout } = await promisify(execFile)(node, [...flags, resolve(ROOT, "worker/src/rebuild-cli.ts")], {
    env,
    maxBuffer: 1 << 20,
  });
  log(`rebuild: ${stdout.trim()} (${((performance.now() - started) / 1000).toFixed(1)} s with its start)`);
  log(`history pages after the rebuild: ${pageCountsLine(await pageCounts(redis, db, stack.redisPrefix))}`);
  const sweep = await awaitPageSweep(db, redis, stack.redisPrefix);
  const swept =
    sweep.sweptAfterMs === null
      ? "not swept within the wait"
      : `swept ${(sweep.sweptAfterMs / 1000).toFixed(1)} s later`;
  log(
    `history pages once retired ones are ${swept}: ${pageCountsLine(await pageCounts(redis, db, stack.redisPrefix))}`,
  );
}

/** The audit of the run when it can be trusted, or why it was skipped or failed without one. */
async function auditOrSkip(
  options: LoadOptions,
  run: {
    ingestOnly: boolean;
    target: LoadTarget;
    drained: boolean;
    crashed: string | null;
    runId: string;
    ledger: Ledger;
  },
): Promise<AuditResult> {
  const { live, db, stack } = run.target;
  if (!options.audit) return { status: "SKIPPED", note: "The audit was turned off (--no-audit).", checks: [] };
  if (run.ingestOnly) {
    return { status: "SKIPPED", note: "Ingestion only (--workers 0): nothing was scored.", checks: [] };
  }
  if (!live || !db) {
    return {
      status: "SKIPPED",
      note: "No access to the live state and the record (pass --mongo-url, --redis-url and --redis-prefix to audit a remote run).",
      checks: [],
    };
  }
  if (!run.drained) {
    return {
      status: "FAIL",
      note: `The queue did not drain within ${options.drainTimeoutSeconds} s${run.crashed ? ` (${run.crashed})` : ""}; the audit needs a quiet system.`,
      checks: [],
    };
  }
  const sweep = await awaitPageSweep(db, live.redis, live.prefix);
  options.log(
    `history pages at the drain: ${sweep.atDrain.stored} stored, ${sweep.atDrain.retired} retired awaiting deletion; ` +
      (sweep.sweptAfterMs === null
        ? `the retired set was not empty ${PAGE_SWEEP_WAIT_MS / 1000} s later`
        : `swept ${(sweep.sweptAfterMs / 1000).toFixed(1)} s later`),
  );
  options.log("audit: refolding the run's stored events and comparing them with the live state…");
  return auditRun({
    db,
    redis: live.redis,
    redisPrefix: live.prefix,
    runId: run.runId,
    ledger: run.ledger,
    scoreCap: stack?.scoreCap ?? options.scoreCap,
  });
}

function endpointReports(endpoints: Map<Endpoint, EndpointTally>, elapsed: number) {
  const reports: Partial<Record<Endpoint, EndpointReport>> = {};
  for (const [endpoint, tally] of endpoints) {
    reports[endpoint] = {
      route: ENDPOINT_ROUTES[endpoint],
      requests: tally.requests,
      events: tally.events,
      requestsPerSecond: tally.requests / elapsed,
      eventsPerSecond: tally.events / elapsed,
      latencyMs: tally.latency.summary(),
      statuses: Object.fromEntries(tally.statuses),
      failed: tally.failed,
    };
  }
  return reports;
}

/** The busiest second that kept up with its schedule within the latency target, without errors or drops. */
function peakSustained(timeline: readonly TimelinePoint[], targets: Targets): number {
  return timeline
    .filter(
      (p) =>
        p.scheduled > 0 &&
        p.requests >= 0.95 * p.scheduled &&
        p.p99Ms <= targets.p99Ms &&
        p.failed === 0 &&
        p.dropped === 0,
    )
    .reduce((max, p) => Math.max(max, p.requests), 0);
}

/** The run judged against the scenario's targets. */
function thresholdResults(
  targets: Targets,
  tally: Tally,
  result: OpenLoopResult,
  lag: LagSummary | null,
  workerLag: WorkerLagSummary | null,
) {
  const { failed } = tally;
  const sent = result.started;
  const overallP99 = tally.overall.summary().p99;
  const thresholds: ThresholdResult[] = [
    {
      name: "requests answered outside the contract",
      target: `≤ ${targets.maxFailedRate * 100}%`,
      actual: `${((failed / Math.max(sent, 1)) * 100).toFixed(3)}% (${failed})`,
      pass: failed / Math.max(sent, 1) <= targets.maxFailedRate,
    },
    {
      name: "request duration p99 (all endpoints)",
      target: `≤ ${targets.p99Ms} ms`,
      actual: `${roundMs(overallP99)} ms`,
      pass: overallP99 <= targets.p99Ms,
    },
    ...[...tally.endpoints.entries()].map(([endpoint, endpointTally]) => {
      const p99 = endpointTally.latency.summary().p99;
      return {
        name: `request duration p99 (${ENDPOINT_ROUTES[endpoint]})`,
        target: `≤ ${targets.p99Ms} ms`,
        actual: `${roundMs(p99)} ms`,
        pass: p99 <= targets.p99Ms,
      };
    }),
    {
      name: "dropped iterations",
      target: `≤ ${targets.maxDroppedRate * 100}% of scheduled`,
      actual: `${((result.dropped / Math.max(result.scheduled, 1)) * 100).toFixed(2)}% (${result.dropped})`,
      pass: result.dropped <= result.scheduled * targets.maxDroppedRate,
    },
  ];
  // Every event's lag, from the workers, where the run started them; else the probe's sample from outside.
  if (workerLag && workerLag.count > 0) {
    thresholds.push({
      name: "acceptance → scored p99 (every event, the workers' histogram)",
      target: `≤ ${targets.lagP99Ms} ms`,
      actual:
        workerLag.p99Ms === null
          ? `> 60 s (${workerLag.count} events)`
          : `${roundMs(workerLag.p99Ms)} ms (${workerLag.count} events, ${workerLag.withinOneSecond} within 1 s)`,
      pass: workerLag.p99Ms !== null && workerLag.p99Ms <= targets.lagP99Ms,
    });
  } else if (lag && lag.count > 0) {
    thresholds.push({
      name: "acceptance → scored p99",
      target: `≤ ${targets.lagP99Ms} ms`,
      actual: `${lag.unseen > 0 ? "> " : ""}${roundMs(lag.p99)} ms (${lag.count} samples${lag.unseen > 0 ? `, ${lag.unseen} never scored` : ""})`,
      pass: lag.p99 <= targets.lagP99Ms && lag.unseen === 0,
    });
  }
  return thresholds;
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const scenario = SCENARIOS[options.scenario];
  const profile = resolveProfile(options);
  const maxInFlight = options.maxInFlight ?? scenario.maxInFlight;
  const runId = options.runId ?? createRunId(Date.now(), Math.random);
  const { log } = options;
  // A private stack without workers measures ingestion alone: nothing scores, so there is no lag, drain or audit.
  const ingestOnly = !options.baseUrl && options.workers === 0;

  const held: Held = { stack: null, mongo: null, redis: null };
  try {
    const target = await connectTarget(options, ingestOnly, held);
    const { stack, baseUrl, live, depth } = target;
    await warmUp(baseUrl, options.writeKey, runId, live, log);

    const workload =
      options.leads === undefined
        ? scenario.workload
        : { ...scenario.workload, mix: { ...scenario.workload.mix, leads: options.leads } };
    const planner = createRequestPlanner({ workload, runId, source: "h", writeKey: options.writeKey });
    const sender = createHttpSender(baseUrl, maxInFlight);
    const ledger = createLedger();
    const lagProbe: LagProbe | null = live
      ? createLagProbe({
          redis: live.redis,
          redisPrefix: live.prefix,
          // Where the workers' histogram counts every event, the probe is a cross-check from outside: fewer samples,
          // so its reads of hot leads' tails take less of the box it measures.
          samplesPerSecond: stack ? 10 : 50,
          pollIntervalMs: 50,
          batchLimit: 500,
        })
      : null;
    const tally = createTally(ledger, lagProbe);
    const loop = createOpenLoop({
      profile,
      maxInFlight,
      async fire() {
        const request = planner.next(Date.now());
        tally.record(request, await sender.send(request));
      },
      shouldContinue: () => !stack?.crashed(),
    });

    const workerLagBefore = stack ? await readWorkerLag(stack.workerMetricsUrls) : null;
    // Bull numbers its jobs from one counter: the jobs the edge made of the run's events.
    const jobCounter = async () =>
      stack && held.redis ? Number((await held.redis.get(`${stack.redisPrefix}:${EVENTS_QUEUE}:id`)) ?? 0) : Number.NaN;
    const jobsBefore = await jobCounter();
    const eventLoop = monitorEventLoopDelay({ resolution: 10 });
    eventLoop.enable();
    const startedAt = new Date();
    const peak = createPeak();
    const { progress } = options;
    const timeline = startTimeline({ scenario, profile, loop, tally, depth, peak, lagProbe, progress, log });
    const result = await loop.run();
    timeline.stop();
    eventLoop.disable();
    await sender.close();
    const crashed = stack?.crashed() ?? null;
    if (crashed) log(`stack process died during the run: ${crashed}`);

    const drainSeconds =
      ingestOnly || crashed
        ? null
        : await drain({
            depth,
            peak,
            live,
            range: runIdRange(runId),
            ledger,
            timeoutSeconds: options.drainTimeoutSeconds,
            progress,
            log,
          });
    const drained = drainSeconds !== null;
    const lag = lagProbe ? await lagProbe.finish(drained ? 5_000 : 0) : null;
    const workerLagAfter = stack && workerLagBefore ? await readWorkerLag(stack.workerMetricsUrls) : null;
    const jobsMade = (await jobCounter()) - jobsBefore;
    const workerLag =
      workerLagBefore && workerLagAfter && drained ? workerLagSummary(workerLagAfter, workerLagBefore) : null;
    const audit = await auditOrSkip(options, { ingestOnly, target, drained, crashed, runId, ledger });
    if (options.rebuildAfter && stack && target.db && target.live && audit.status !== "SKIPPED") {
      await rebuildAndCountPages(stack, target.db, target.live.redis, log);
    }

    const elapsed = Math.max(result.elapsedSeconds, 1e-3);
    const jobs = Number.isNaN(jobsMade) ? null : jobsMade;
    const { outcomes } = tally;
    const sent = result.started;
    const peakRequests = peakSustained(timeline.timeline, scenario.targets);
    return {
      scenario: scenario.name,
      workload: scenario.workload.name,
      description:
        options.leads === undefined
          ? scenario.description
          : `${scenario.description}; this run: ${options.leads.toLocaleString("en-US")} leads (--leads)`,
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      baseUrl,
      stack: stack
        ? `self-started: edge on Deno + ${options.workers} worker(s), Redis prefix ${stack.redisPrefix}, database ${stack.dbName}`
        : "external deployment",
      profile,
      mix: workload.mix,
      targets: scenario.targets,
      requests: {
        scheduled: result.scheduled,
        sent,
        dropped: result.dropped,
        failed: tally.failed,
        elapsedSeconds: result.elapsedSeconds,
        requestsPerSecond: sent / elapsed,
        eventsPerSecond: outcomes.sent / elapsed,
        peakSustainedRequestsPerSecond: peakRequests,
        peakSustainedEventsPerSecond: peakRequests * (outcomes.sent / Math.max(sent, 1)),
      },
      events: outcomes,
      latencyMs: tally.overall.summary(),
      endpoints: endpointReports(tally.endpoints, elapsed),
      errorsByStatus: Object.fromEntries(tally.errorsByStatus),
      errorSamples: tally.errorSamples,
      lag,
      workerLag,
      lagNote: ingestOnly
        ? "Lag not measured: ingestion only (--workers 0)."
        : live && lag
          ? lagNote(lag.pollIntervalMs)
          : "Lag not measured: no access to the live state (--mongo-url, --redis-url).",
      queue: { source: depth.source, peakDepth: peak.value, drainSeconds, drained, jobs },
      generator: { eventLoopDelayP99Ms: eventLoop.percentile(99) / 1e6, maxInFlight },
      thresholds: thresholdResults(scenario.targets, tally, result, lag, workerLag),
      audit,
      timeline: timeline.timeline,
    };
  } finally {
    held.redis?.disconnect();
    await held.mongo?.close().catch(() => undefined);
    if (held.stack) {
      options.onStackOutput?.(held.stack.output());
      await held.stack.stop();
    }
  }
}
