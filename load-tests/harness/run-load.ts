// Drives one scenario open-loop against a stack (its own, or a deployment given by URL), watches it live, waits for
// the queue to drain, audits the live state (Redis) against the durable record (MongoDB) and writes the report.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS, EVENTS_QUEUE, mongoDatabaseName } from "@leadscore/contracts";
import { createLiveReader, liveKeys } from "@leadscore/live";
import { Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";
import { createRunId, runIdRange } from "../src/payloads.ts";
import {
  ENDPOINT_ROUTES,
  type Endpoint,
  type EventOutcome,
  expectedStatuses,
  interpretResponse,
} from "../src/requests.ts";
import { type LoadProfile, profileDurationSeconds, SCENARIOS, scheduledBy, withOverrides } from "../src/scenarios.ts";
import { createRequestPlanner } from "../src/workloads.ts";
import type { CliOptions } from "./args.ts";
import { type AuditResult, auditRun } from "./audit.ts";
import { createHttpSender } from "./http-sender.ts";
import { createLagProbe, type LagProbe, type LagSummary } from "./lag-probe.ts";
import { createLedger } from "./ledger.ts";
import { createBullDepthReader, createMetricsDepthReader, firstAvailable, type QueueDepthReader } from "./metrics.ts";
import { createOpenLoop } from "./open-loop.ts";
import type { EndpointReport, LoadReport, ThresholdResult, TimelinePoint } from "./report.ts";
import { type LocalStack, startLocalStack } from "./stack.ts";
import { createLatencyRecorder, type LatencyRecorder, roundMs } from "./stats.ts";

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
  "Lag: for a sample of accepted in-order events (≤ 50 a second; late ones are checked by the audit), the time from their 202 arriving here to the first " +
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
    if (Number(await live.redis.hget(liveKeys(live.prefix).lead(`warmup.${runId}`), "n")) >= 1) {
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

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const scenario = SCENARIOS[options.scenario];
  const profile = resolveProfile(options);
  const maxInFlight = options.maxInFlight ?? scenario.maxInFlight;
  const runId = options.runId ?? createRunId(Date.now(), Math.random);
  const { log } = options;
  // A private stack without workers measures ingestion alone: nothing scores, so there is no lag, drain or audit.
  const ingestOnly = !options.baseUrl && options.workers === 0;

  let stack: LocalStack | null = null;
  let mongo: MongoClient | null = null;
  let redis: Redis | null = null;
  try {
    if (!options.baseUrl) {
      stack = await startLocalStack({
        workers: options.workers,
        writeKey: options.writeKey,
        scoreCap: options.scoreCap,
        log,
      });
    }
    const baseUrl = options.baseUrl ?? (stack as LocalStack).baseUrl;
    const mongoUrl = ingestOnly ? undefined : (stack?.mongoUrl ?? options.mongoUrl);
    let db: Db | null = null;
    if (mongoUrl) {
      mongo = new MongoClient(mongoUrl);
      await mongo.connect();
      db = mongo.db(mongoDatabaseName(mongoUrl));
    }
    const redisUrl = ingestOnly ? undefined : (stack?.redisUrl ?? options.redisUrl);
    const prefix = stack?.redisPrefix ?? options.redisPrefix;
    if (redisUrl) redis = new Redis(redisUrl);
    // Lag and audit read the live state and the durable record both.
    const live: Live | null = redis && db ? { redis, prefix } : null;
    // The edge's own figure first; the Bull lists in Redis when the edge exports none.
    const depthReaders: QueueDepthReader[] = [createMetricsDepthReader(`${baseUrl}/metrics`, options.metricsToken)];
    if (stack) {
      const bullRedis = redis ?? new Redis(stack.redisUrl);
      redis = bullRedis;
      depthReaders.push(createBullDepthReader(bullRedis, stack.redisPrefix, EVENTS_QUEUE));
    }
    const depth = firstAvailable(depthReaders);

    await warmUp(baseUrl, options.writeKey, runId, live, log);

    const workload =
      options.leads === undefined
        ? scenario.workload
        : { ...scenario.workload, mix: { ...scenario.workload.mix, leads: options.leads } };
    const planner = createRequestPlanner({
      workload,
      runId,
      source: "h",
      writeKey: options.writeKey,
    });
    const sender = createHttpSender(baseUrl, maxInFlight);
    const ledger = createLedger();
    const lagProbe: LagProbe | null = live
      ? createLagProbe({
          redis: live.redis,
          redisPrefix: live.prefix,
          samplesPerSecond: 50,
          pollIntervalMs: 50,
          batchLimit: 500,
        })
      : null;
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

    const loop = createOpenLoop({
      profile,
      maxInFlight,
      async fire() {
        const request = planner.next(Date.now());
        const result = await sender.send(request);
        const { outcomes: eventOutcomes } = interpretResponse(request, result.status, result.body);
        let tally = endpoints.get(request.endpoint);
        if (!tally) {
          tally = { requests: 0, events: 0, failed: 0, latency: createLatencyRecorder(), statuses: new Map() };
          endpoints.set(request.endpoint, tally);
        }
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
      shouldContinue: () => !stack?.crashed(),
    });

    const eventLoop = monitorEventLoopDelay({ resolution: 10 });
    eventLoop.enable();
    const startedAt = new Date();
    const timeline: TimelinePoint[] = [];
    let peakDepth: number | null = null;
    let lastDropped = 0;
    let lastDepth: number | null = null;
    let depthReading = false;
    const totalSeconds = profileDurationSeconds(profile);
    let second = 0;
    const ticker = setInterval(() => {
      second += 1;
      if (!depthReading) {
        depthReading = true;
        depth
          .read()
          .then((value) => {
            lastDepth = value?.depth ?? null;
            if (value) peakDepth = Math.max(peakDepth ?? 0, value.depth);
          })
          .finally(() => {
            depthReading = false;
          });
      }
      const window = windowLatency.summary();
      const point: TimelinePoint = {
        second,
        scheduled: Math.round(scheduledBy(profile, second) - scheduledBy(profile, second - 1)),
        requests: windowRequests,
        failed: windowFailed,
        dropped: loop.dropped - lastDropped,
        p99Ms: roundMs(window.p99),
        inFlight: loop.inFlight,
        queueDepth: lastDepth,
      };
      timeline.push(point);
      lastDropped = loop.dropped;
      windowLatency.reset();
      windowRequests = 0;
      windowFailed = 0;
      if (options.progress) {
        const lagP99 = lagProbe?.currentP99();
        log(
          `[${scenario.name} ${second}s/${Math.round(totalSeconds)}s] rps=${point.requests} target=${point.scheduled} errors=${point.failed} dropped=${point.dropped} inflight=${point.inFlight} p99=${point.p99Ms}ms ` +
            `queue=${point.queueDepth ?? "?"} lag_p99=${lagP99 !== undefined && Number.isFinite(lagP99) ? `${roundMs(lagP99)}ms` : "–"}`,
        );
      }
    }, 1000);

    const result = await loop.run();
    clearInterval(ticker);
    eventLoop.disable();
    await sender.close();
    const crashed = stack?.crashed() ?? null;
    if (crashed) log(`stack process died during the run: ${crashed}`);

    // Drain: the queue empties, no lead waits for the deep lane, and the events folded for the run stop growing (or
    // reach every accepted event).
    const drainStart = performance.now();
    let drained = false;
    const range = runIdRange(runId);
    let expectedScored = 0;
    for (const entry of ledger.entries()) if (entry.expectation === "present") expectedScored += 1;
    let lastScored = -1;
    let stableSince = performance.now();
    while (!ingestOnly && !crashed && (performance.now() - drainStart) / 1000 < options.drainTimeoutSeconds) {
      const reading = await depth.read();
      if (reading) peakDepth = Math.max(peakDepth ?? 0, reading.depth);
      const scored = live ? await foldedForRun(live, range) : null;
      const deepBusy = live !== null && scored === null;
      if (scored !== lastScored) {
        lastScored = scored ?? -1;
        stableSince = performance.now();
      }
      if (options.progress) {
        const jobs = reading?.pendingJobs ?? null;
        log(`[drain] queue=${reading?.depth ?? "?"} jobs=${jobs ?? "?"} scored=${scored ?? "?"}/${expectedScored}`);
      }
      // Unknown depth counts as empty: the count of folded events then decides.
      const queueEmpty = reading === null || (reading.pendingJobs ?? reading.depth) === 0;
      const settled = scored === null || scored >= expectedScored || performance.now() - stableSince > 3000;
      if (queueEmpty && !deepBusy && settled) {
        drained = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const drainSeconds = drained ? (performance.now() - drainStart) / 1000 : null;

    let lag: LagSummary | null = null;
    if (lagProbe) lag = await lagProbe.finish(drained ? 5_000 : 0);

    let audit: AuditResult;
    if (!options.audit) audit = { status: "SKIPPED", note: "The audit was turned off (--no-audit).", checks: [] };
    else if (ingestOnly) {
      audit = { status: "SKIPPED", note: "Ingestion only (--workers 0): nothing was scored.", checks: [] };
    } else if (!live || !db) {
      audit = {
        status: "SKIPPED",
        note: "No access to the live state and the record (pass --mongo-url, --redis-url and --redis-prefix to audit a remote run).",
        checks: [],
      };
    } else if (!drained) {
      audit = {
        status: "FAIL",
        note: `The queue did not drain within ${options.drainTimeoutSeconds} s${crashed ? ` (${crashed})` : ""}; the audit needs a quiet system.`,
        checks: [],
      };
    } else {
      log("audit: refolding the run's stored events and comparing them with the live state…");
      audit = await auditRun({
        db,
        redis: live.redis,
        redisPrefix: live.prefix,
        runId,
        ledger,
        scoreCap: stack?.scoreCap ?? options.scoreCap,
      });
    }

    const elapsed = Math.max(result.elapsedSeconds, 1e-3);
    const overallSummary = overall.summary();
    const endpointReports: Partial<Record<Endpoint, EndpointReport>> = {};
    for (const [endpoint, tally] of endpoints) {
      endpointReports[endpoint] = {
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
    const targets = scenario.targets;
    const sent = result.started;
    // The busiest second that kept up with its schedule within the latency target, without errors or drops.
    const sustainedSeconds = timeline.filter(
      (p) =>
        p.scheduled > 0 &&
        p.requests >= 0.95 * p.scheduled &&
        p.p99Ms <= targets.p99Ms &&
        p.failed === 0 &&
        p.dropped === 0,
    );
    const peakSustained = sustainedSeconds.reduce((max, p) => Math.max(max, p.requests), 0);
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
        actual: `${roundMs(overallSummary.p99)} ms`,
        pass: overallSummary.p99 <= targets.p99Ms,
      },
      ...[...endpoints.entries()].map(([endpoint, tally]) => {
        const p99 = tally.latency.summary().p99;
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
    if (lag && lag.count > 0) {
      thresholds.push({
        name: "acceptance → scored p99",
        target: `≤ ${targets.lagP99Ms} ms`,
        actual: `${lag.unseen > 0 ? "> " : ""}${roundMs(lag.p99)} ms (${lag.count} samples${lag.unseen > 0 ? `, ${lag.unseen} never scored` : ""})`,
        pass: lag.p99 <= targets.lagP99Ms && lag.unseen === 0,
      });
    }

    return {
      scenario: scenario.name,
      workload: scenario.workload.name,
      description: scenario.description,
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      baseUrl,
      stack: stack
        ? `self-started: edge on Deno + ${options.workers} worker(s), Redis prefix ${stack.redisPrefix}, database ${stack.dbName}`
        : "external deployment",
      profile,
      mix: workload.mix,
      targets,
      requests: {
        scheduled: result.scheduled,
        sent,
        dropped: result.dropped,
        failed,
        elapsedSeconds: result.elapsedSeconds,
        requestsPerSecond: sent / elapsed,
        eventsPerSecond: outcomes.sent / elapsed,
        peakSustainedRequestsPerSecond: peakSustained,
        peakSustainedEventsPerSecond: peakSustained * (outcomes.sent / Math.max(sent, 1)),
      },
      events: outcomes,
      latencyMs: overallSummary,
      endpoints: endpointReports,
      errorsByStatus: Object.fromEntries(errorsByStatus),
      errorSamples,
      lag,
      lagNote: ingestOnly
        ? "Lag not measured: ingestion only (--workers 0)."
        : live && lag
          ? lagNote(lag.pollIntervalMs)
          : "Lag not measured: no access to the live state (--mongo-url, --redis-url).",
      queue: { source: depth.source, peakDepth, drainSeconds, drained },
      generator: { eventLoopDelayP99Ms: eventLoop.percentile(99) / 1e6, maxInFlight },
      thresholds,
      audit,
      timeline,
    };
  } finally {
    redis?.disconnect();
    await mongo?.close().catch(() => undefined);
    if (stack) {
      options.onStackOutput?.(stack.output());
      await stack.stop();
    }
  }
}
