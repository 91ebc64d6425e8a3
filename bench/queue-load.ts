// The way the worker benchmarks reach a scored state fast and honestly: events generated as bench:worker spreads
// them (Zipf over the leads, a share late), put straight into the paused queue in jobs as the edge would, then
// drained by a real worker process, whose own metrics say when every job is done.
import { performance } from "node:perf_hooks";
import type { QueuedEvent } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { type EventsJob, leadPartition } from "@leadscore/runtime";
import { parsePrometheus, type Sample } from "@leadscore/runtime/prometheus";
import type Queue from "bull";
import type { Redis } from "ioredis";
import type { RunningProcess } from "../test-support/processes.ts";
import { createRandom, zipf } from "./random.ts";
import { realisticEventType, realisticMetadata } from "./realistic-rules.ts";

/** Bull options of the seeded jobs. */
export const JOB_OPTIONS = { removeOnComplete: true, attempts: 5 };
const TYPES = ["page_view", "page_view", "page_view", "email_open", "email_open", "form_submission", "purchase"];
const T0 = Date.parse("2026-01-01T00:00:00Z");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

export interface EventSpread {
  leads: number;
  seed: number;
  /** Zipf's exponent of the leads' shares. */
  zipf: number;
  /** Share of events stamped up to a minute before their lead's newest. */
  late: number;
  /** The realistic rule set's event types and metadata (paths, email ids, campaigns…). */
  realistic?: boolean;
  /** Lead ids are `<leadPrefix><rank>` (default `lead-`). */
  leadPrefix?: string;
}

/**
 * Event generator: Zipf-spread leads, event times increasing per lead, a share of them late; ids
 * `b-<seed>-<n>` from 1 on.
 */
export function createEvents(spread: EventSpread) {
  const random = createRandom(spread.seed);
  const pick = zipf(spread.leads, spread.zipf, random);
  const leadPrefix = spread.leadPrefix ?? "lead-";
  const clock = new Map<number, number>();
  let sequence = 0;
  return (receivedAt: number): QueuedEvent => {
    const lead = pick();
    const last = clock.get(lead) ?? T0;
    const late = random() < spread.late && last > T0;
    const timestamp = late ? last - 1 - Math.floor(random() * 60_000) : last + 1 + Math.floor(random() * 1_000);
    if (!late) clock.set(lead, timestamp);
    sequence += 1;
    const type = spread.realistic
      ? realisticEventType(random)
      : (TYPES[Math.floor(random() * TYPES.length)] ?? "page_view");
    return {
      event_id: `b-${spread.seed}-${sequence}`,
      lead_id: `${leadPrefix}${lead}`,
      event_type: type,
      timestamp,
      received_at: receivedAt,
      metadata: spread.realistic ? realisticMetadata(type, random) : { path: "/pricing" },
    };
  };
}

/** Adds jobs of `perJob` events to the queues (one per lead partition, each job's events of one); returns the jobs. */
export async function addJobs(
  queues: readonly Queue.Queue<EventsJob>[],
  events: readonly QueuedEvent[],
  perJob: number,
): Promise<number> {
  const parts = queues.map((): QueuedEvent[] => []);
  for (const event of events) parts[leadPartition(event.lead_id, queues.length)]?.push(event);
  let jobs = 0;
  for (const [p, part] of parts.entries()) {
    const batch = [];
    for (let j = 0; j < part.length; j += perJob) {
      batch.push({ data: { v: 1 as const, events: part.slice(j, j + perJob) }, opts: JOB_OPTIONS });
    }
    if (batch.length > 0) await queues[p]?.addBulk(batch);
    jobs += batch.length;
  }
  return jobs;
}

export async function metricsOf(port: number): Promise<Sample[]> {
  return parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
}

export const labelled = (samples: Sample[], name: string, label: string, value: string) =>
  samples.find((s) => s.name === name && s.labels[label] === value)?.value ?? 0;

export interface DrainWatch {
  redis: Redis;
  /** Each lead partition's prefix. */
  partitions: readonly string[];
  queues: readonly Queue.Queue<EventsJob>[];
  worker: RunningProcess;
  /** The worker's metrics port. */
  port: number;
  /** Jobs the worker must complete. */
  jobs: number;
}

/**
 * Resolves (with `performance.now()`) once the worker has completed `jobs` jobs and no lead waits in the deep lane.
 * Jobs are removed on completion, so the worker's `jobs_total{outcome="completed"}` counts them.
 */
export async function waitScoredByMetrics(watch: DrainWatch): Promise<number> {
  const { redis, worker, port, jobs } = watch;
  const layouts = watch.partitions.map((each) => liveKeys(each));
  let lastPrint = Date.now();
  // No job completed and no lead left the deep lane for this long: the worker is stuck, and its output says why.
  const stallMs = 120_000;
  let [lastSeen, lastChange] = ["", Date.now()];
  for (;;) {
    const samples = await metricsOf(port);
    const completed = labelled(samples, "leadscore_worker_jobs_total", "outcome", "completed");
    // A transient failure is retried by Bull; only a job out of attempts stops the bench.
    const counts = await Promise.all(watch.queues.map((queue) => queue.getJobCounts()));
    const failed = counts.reduce((sum, count) => sum + count.failed, 0);
    if (failed > 0) throw new Error(`${failed} jobs failed`);
    const deep = (await Promise.all(layouts.map((keys) => redis.hlen(keys.deep)))).reduce((a, b) => a + b, 0);
    if (completed >= jobs && deep === 0) return performance.now();
    if (`${completed}/${deep}` !== lastSeen) [lastSeen, lastChange] = [`${completed}/${deep}`, Date.now()];
    if (Date.now() - lastChange > stallMs) {
      throw new Error(
        `no progress for ${stallMs / 1000} s at ${completed} of ${jobs} jobs, ${deep} leads in the deep lane; ` +
          `the worker's output ends:\n${worker.output().slice(-4000)}`,
      );
    }
    if (Date.now() - lastPrint > 15_000) {
      lastPrint = Date.now();
      console.log(`    … ${fmt(completed)} of ${fmt(jobs)} jobs done, ${deep} leads in the deep lane`);
    }
    await sleep(50);
  }
}
