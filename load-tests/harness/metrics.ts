// Reads the edge's /metrics (Prometheus text) and, when the harness knows the Redis prefix, the Bull queue itself.
import { parsePrometheus, type Sample } from "@leadscore/runtime/prometheus";
import type { Redis } from "ioredis";

/**
 * The queue depth the edge reports: the sum of the first metric whose name says depth (`*_queue_depth`, or a size,
 * length or waiting count), over pending states when it splits them by a `state` label. Null when there is none.
 */
export function queueDepthFrom(samples: Sample[]): number | null {
  const candidates = samples.filter((sample) => /queue_(depth|size|length|waiting)/.test(sample.name));
  const first = candidates[0];
  if (!first) return null;
  return sumPending(candidates.filter((sample) => sample.name === first.name));
}

/** Jobs waiting, active, delayed or paused from a `*_queue_jobs{state=…}` gauge; null when the edge exports none. */
export function pendingJobsFrom(samples: Sample[]): number | null {
  const jobs = samples.filter((sample) => /queue_jobs$/.test(sample.name) && sample.labels.state !== undefined);
  return jobs.length === 0 ? null : sumPending(jobs);
}

function sumPending(samples: Sample[]): number {
  return samples
    .filter((sample) => sample.labels.state === undefined || !/completed|failed/.test(sample.labels.state))
    .reduce((sum, sample) => sum + sample.value, 0);
}

export interface QueueReading {
  /** Events (or, when only jobs are known, jobs) waiting to be scored. */
  depth: number;
  /** Jobs not yet finished (waiting, active, delayed, paused), when known: zero means drained. */
  pendingJobs: number | null;
}

export interface QueueDepthReader {
  /** Null when this source cannot tell. */
  read(): Promise<QueueReading | null>;
  /** Where the figure comes from, for the report. */
  readonly source: string;
}

/** Jobs waiting, active, delayed or paused in the Bull queue, straight from Redis. */
export function createBullDepthReader(redis: Redis, prefix: string, queue: string): QueueDepthReader {
  const key = (suffix: string) => `${prefix}:${queue}:${suffix}`;
  return {
    source: `Bull queue ${prefix}:${queue} in Redis (jobs)`,
    async read() {
      // Bull counts job ids in `<prefix>:<queue>:id`; without it the keys are not where this reader looks.
      if ((await redis.exists(key("id"))) === 0) return null;
      const [wait, active, paused, delayed] = await Promise.all([
        redis.llen(key("wait")),
        redis.llen(key("active")),
        redis.llen(key("paused")),
        redis.zcard(key("delayed")),
      ]);
      const jobs = wait + active + paused + delayed;
      return { depth: jobs, pendingJobs: jobs };
    },
  };
}

/** The queue depth exported on the edge's /metrics; `token` is the deployment's METRICS_TOKEN, when it sets one. */
export function createMetricsDepthReader(metricsUrl: string, token?: string): QueueDepthReader {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    source: `${metricsUrl}`,
    async read() {
      try {
        const response = await fetch(metricsUrl, { headers, signal: AbortSignal.timeout(2000) });
        if (!response.ok) return null;
        const samples = parsePrometheus(await response.text());
        const depth = queueDepthFrom(samples);
        const pendingJobs = pendingJobsFrom(samples);
        if (depth === null && pendingJobs === null) return null;
        return { depth: depth ?? (pendingJobs as number), pendingJobs };
      } catch {
        return null;
      }
    },
  };
}

/** Tries each reader in turn and keeps the first that answers. */
export function firstAvailable(readers: QueueDepthReader[]): QueueDepthReader {
  let chosen: QueueDepthReader | null = null;
  return {
    get source() {
      return chosen?.source ?? "unknown";
    },
    async read() {
      if (chosen) return chosen.read();
      for (const reader of readers) {
        const value = await reader.read().catch(() => null);
        if (value !== null) {
          chosen = reader;
          return value;
        }
      }
      return null;
    },
  };
}
