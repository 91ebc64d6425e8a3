// Worker metrics: throughput, acceptance → scored lag and failures, as Prometheus text and as a periodic log line.
import { createServer, type Server } from "node:http";
import { type Logger, quantile } from "@leadscore/runtime";
import {
  byLabel,
  counterLines,
  createHistogram,
  gaugeLines,
  prometheusText,
  summaryLines,
} from "@leadscore/runtime/prometheus";
import type { DeepLaneStats } from "./deep-lane.ts";
import type { RebuildProgress } from "./rebuild.ts";
import type { RescoreStats } from "./rescore.ts";
import type { BatchResult } from "./scorer.ts";

/** Upper bounds (seconds) of the lag histogram's buckets. */
export const LAG_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60,
];
/** Lags kept per log window for its percentiles; past this, a uniform sample is kept. */
const WINDOW_SAMPLE = 20_000;

export type FailureKind = "permanent" | "transient";

export interface WorkerMetrics {
  recordBatch(result: BatchResult, durationMs: number): void;
  /** Lags of events folded outside a batch (by the deep lane): edge acceptance → committed, in ms. */
  recordLags(lagsMs: readonly number[]): void;
  recordJob(outcome: "completed" | FailureKind): void;
  /** Events sent on to another lead partition's queue, their ids merged into a root there. */
  recordForwarded(events: number): void;
  /** The deep lane whose figures `/metrics` shows (leads folded off the batch path). */
  watchDeepLane(stats: DeepLaneStats): void;
  /** The rebuild progress `/metrics` shows (a rebuild this process runs). */
  watchRebuild(progress: RebuildProgress): void;
  /** The progress of a re-score this process runs (rescore.ts). */
  watchRescore(stats: RescoreStats): void;
  /** Prometheus text exposition. */
  render(): string;
  /** Figures since the previous call, for the periodic log line. */
  takeWindow(): WindowSummary;
  totals(): {
    scored: number;
    duplicates: number;
    deadLetters: number;
    late: number;
    retries: number;
    failed: number;
  };
}

export interface WindowSummary {
  seconds: number;
  scored: number;
  eventsPerSecond: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
  failed: number;
}

export function createWorkerMetrics(now: () => number = Date.now): WorkerMetrics {
  let scored = 0;
  let duplicates = 0;
  let deadLetters = 0;
  let late = 0;
  let retries = 0;
  let forwarded = 0;
  const diverted = { pages: 0, rescan: 0 };
  // One of each per lead partition the process consumes: `/metrics` shows their sums.
  const deeps: DeepLaneStats[] = [];
  const rebuilds: RebuildProgress[] = [];
  let rescore: RescoreStats | undefined;
  let batches = 0;
  let batchSeconds = 0;
  const jobs = { completed: 0, permanent: 0, transient: 0 };
  const lag = createHistogram(
    "leadscore_worker_lag_seconds",
    "Time from the edge accepting an event to its score being committed.",
    LAG_BUCKETS,
  );

  let windowStart = now();
  let windowScored = 0;
  let windowFailed = 0;
  let windowLags: number[] = [];
  let windowSeen = 0;

  const observeLags = (lagsMs: readonly number[]) => {
    for (const lagMs of lagsMs) {
      lag.observe(lagMs / 1000);
      windowSeen += 1;
      if (windowLags.length < WINDOW_SAMPLE) windowLags.push(lagMs);
      else {
        const slot = Math.floor(Math.random() * windowSeen);
        if (slot < WINDOW_SAMPLE) windowLags[slot] = lagMs;
      }
    }
  };

  return {
    recordBatch(result, durationMs) {
      scored += result.stored;
      duplicates += result.duplicates;
      deadLetters += result.deadLettered;
      late += result.late;
      retries += result.retries;
      diverted.pages += result.diverted.pages;
      diverted.rescan += result.diverted.rescan;
      batches += 1;
      batchSeconds += durationMs / 1000;
      windowScored += result.stored;
      observeLags(result.lagsMs);
    },
    recordLags: observeLags,
    recordForwarded(events) {
      forwarded += events;
    },
    watchDeepLane(stats) {
      deeps.push(stats);
    },
    watchRebuild(progress) {
      rebuilds.push(progress);
    },
    watchRescore(stats) {
      rescore = stats;
    },
    recordJob(outcome) {
      jobs[outcome] += 1;
      if (outcome !== "completed") windowFailed += 1;
    },
    render() {
      const deep = sumDeepLanes(deeps);
      const rebuild = rebuilds.length === 0 ? undefined : sumRebuilds(rebuilds);
      const cpu = process.cpuUsage();
      return prometheusText([
        ...counterLines("leadscore_worker_events_scored_total", "Events stored and scored for the first time.", scored),
        ...counterLines(
          "leadscore_worker_duplicate_events_total",
          "Events that were already stored (replays, repeated ids).",
          duplicates,
        ),
        ...counterLines(
          "leadscore_worker_dead_letters_total",
          "Events the store refused, kept as dead letters instead of being scored (GET /api/dead-letters).",
          deadLetters,
        ),
        ...counterLines(
          "leadscore_worker_late_events_total",
          "Events older than their lead's newest scored event.",
          late,
        ),
        ...counterLines(
          "leadscore_worker_lead_write_retries_total",
          "Lead commits planned again after another worker's commit won.",
          retries,
        ),
        ...counterLines(
          "leadscore_worker_events_forwarded_total",
          "Events sent on to another lead partition's queue: their lead ids were merged into a root there.",
          forwarded,
        ),
        ...counterLines(
          "leadscore_worker_merges_handed_over_total",
          "Leads merged into a root of another lead partition, handed over there by this process's deep lane.",
          deep?.handedOver ?? 0,
        ),
        ...counterLines(
          "leadscore_worker_deep_lane_diverted_total",
          "Leads a batch handed to the deep lane: an event older than the lead's tail while older history is in " +
            "MongoDB pages (pages), or a duplicate of unknown state (rescan).",
          byLabel("reason", Object.entries(diverted)),
        ),
        ...counterLines(
          "leadscore_worker_deep_lane_folded_total",
          "Leads the deep lane of this process folded, by what it read.",
          byLabel("read", Object.entries(deep?.folded ?? { memory: 0, pages: 0, rescan: 0, merge: 0 })),
        ),
        ...counterLines(
          "leadscore_worker_deep_lane_pages_read_total",
          "History pages the deep lane folded, by where it read them: this process's page cache (memory) or " +
            "MongoDB (store).",
          byLabel("from", Object.entries(deep?.pagesRead ?? { memory: 0, store: 0 })),
        ),
        ...gaugeLines(
          "leadscore_worker_deep_lane_waiting",
          "Leads waiting for the deep lane at its last look.",
          deep?.waiting ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rebuild_running",
          "1 while this process rebuilds the live state.",
          rebuild?.running ? 1 : 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rebuild_events_read",
          "Stored events this process's current or last rebuild has read.",
          rebuild?.eventsRead ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rebuild_leads_written",
          "Leads this process's current or last rebuild has written.",
          rebuild?.leadsWritten ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rescore_running",
          "1 while this process re-scores every lead after a retroactive publish.",
          rescore?.running ? 1 : 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rescore_version",
          "The rule-set version of this process's current or last re-score.",
          rescore?.version ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rescore_leads_total",
          "Leads this process's current or last re-score set out to re-score.",
          rescore?.leadsTotal ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rescore_leads_done",
          "Leads this process's current or last re-score has re-scored.",
          rescore?.leadsDone ?? 0,
        ),
        ...gaugeLines(
          "leadscore_worker_rescore_events_done",
          "Events of the leads this process's current or last re-score has re-scored.",
          rescore?.eventsDone ?? 0,
        ),
        ...counterLines(
          "leadscore_worker_jobs_total",
          "Queue jobs by outcome.",
          byLabel("outcome", Object.entries(jobs)),
        ),
        ...summaryLines("leadscore_worker_batch_seconds", "Time to score one batch of jobs.", batchSeconds, batches),
        ...lag.lines(),
        ...counterLines(
          "process_cpu_seconds_total",
          "User and system CPU time spent by this process.",
          (cpu.user + cpu.system) / 1e6,
        ),
        ...gaugeLines("process_resident_memory_bytes", "Resident memory of this process.", process.memoryUsage.rss()),
      ]);
    },
    takeWindow() {
      const at = now();
      const seconds = Math.max((at - windowStart) / 1000, 0.001);
      const sorted = windowLags.sort((a, b) => a - b);
      const summary: WindowSummary = {
        seconds,
        scored: windowScored,
        eventsPerSecond: windowScored / seconds,
        lagP50Ms: sorted.length > 0 ? quantile(sorted, 0.5) : null,
        lagP99Ms: sorted.length > 0 ? quantile(sorted, 0.99) : null,
        failed: windowFailed,
      };
      windowStart = at;
      windowScored = 0;
      windowFailed = 0;
      windowLags = [];
      windowSeen = 0;
      return summary;
    },
    totals: () => ({ scored, duplicates, deadLetters, late, retries, failed: jobs.permanent + jobs.transient }),
  };
}

/** Serves `GET /metrics` on the port; resolves with the server once it listens. */
export function serveMetrics(metrics: WorkerMetrics, port: number, log: Logger): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
      response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(metrics.render());
      return;
    }
    response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    response.end("not found\n");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      server.off("error", reject);
      const address = server.address();
      log.info("worker metrics listening", { port: typeof address === "object" && address ? address.port : port });
      resolve(server);
    });
  });
}

/** Counters of several parts added field by field. */
function sumCounts<T extends Record<string, number>>(parts: readonly T[]): T {
  const total: Record<string, number> = {};
  for (const part of parts) for (const [key, value] of Object.entries(part)) total[key] = (total[key] ?? 0) + value;
  return total as T;
}

/** Every partition's deep lane as one. */
function sumDeepLanes(deeps: readonly DeepLaneStats[]): DeepLaneStats | undefined {
  if (deeps.length <= 1) return deeps[0];
  return {
    folded: sumCounts(deeps.map((deep) => deep.folded)),
    pagesRead: sumCounts(deeps.map((deep) => deep.pagesRead)),
    passes: deeps.reduce((sum, deep) => sum + deep.passes, 0),
    waiting: deeps.reduce((sum, deep) => sum + deep.waiting, 0),
    handedOver: deeps.reduce((sum, deep) => sum + deep.handedOver, 0),
  };
}

/** Every partition's rebuild as one: running while any runs. */
function sumRebuilds(rebuilds: readonly RebuildProgress[]): RebuildProgress {
  return {
    running: rebuilds.some((rebuild) => rebuild.running),
    eventsRead: rebuilds.reduce((sum, rebuild) => sum + rebuild.eventsRead, 0),
    leadsWritten: rebuilds.reduce((sum, rebuild) => sum + rebuild.leadsWritten, 0),
  };
}
