// Acceptance → scored lag, measured on a sample of accepted events: each is polled for in the live state in Redis
// (the newest entries its lead's hash keeps, one HMGET per lead, pipelined) and its lag is the start of the first poll
// that found it minus the moment its 202 arrived (both on this machine's clock). The figure is an upper bound, at most
// one poll interval high. The probe waits at least 4× its last poll's time between polls, so it never takes more than
// a fifth of the server from the system it measures; the summary reports the widest interval used. An event that has
// left the tail before a poll saw it (its lead took 50+ newer events within one interval, or it was folded into a
// settled page) stays unseen and is reported as such.
import { type CompactEntry, leadHashField, liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import { createLatencyRecorder, type LatencySummary } from "./stats.ts";

export interface LagProbeOptions {
  /** The Redis holding the live state, and its key prefix. */
  redis: Redis;
  redisPrefix: string;
  /** Samples taken per second at most, whatever the event rate. */
  samplesPerSecond: number;
  pollIntervalMs: number;
  /** Samples polled in one round trip at most; the oldest go first. */
  batchLimit: number;
}

export interface LagSummary extends LatencySummary {
  /**
   * Sampled events never seen in the live state by the end. They are counted in the percentiles with their age at
   * the end, so the figures are lower bounds whenever this is not 0.
   */
  unseen: number;
  /** The widest interval between two polls: how far above the truth a figure may be. */
  pollIntervalMs: number;
}

export interface LagProbe {
  /** Offers an accepted event; the probe keeps it if its sampling budget allows. */
  offer(eventId: string, leadId: string, acceptedAt: number): void;
  readonly pending: number;
  /** Live p99 of the samples found so far. */
  currentP99(): number;
  /** Polls until every sample is found or `timeoutMs` passes, then stops. */
  finish(timeoutMs: number): Promise<LagSummary>;
}

export function createLagProbe(options: LagProbeOptions): LagProbe {
  const { redis } = options;
  const keys = liveKeys(options.redisPrefix);
  const pending = new Map<string, { leadId: string; acceptedAt: number }>();
  const lags = createLatencyRecorder();
  let windowStart = performance.now();
  let takenInWindow = 0;
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();

  const pollOnce = async () => {
    if (pending.size === 0) return;
    const queryStart = performance.now();
    const batch: [string, string][] = [];
    for (const [id, { leadId, acceptedAt }] of pending) {
      if (acceptedAt > queryStart) continue;
      batch.push([id, leadId]);
      if (batch.length >= options.batchLimit) break;
    }
    if (batch.length === 0) return;
    const leads = [...new Set(batch.map(([, leadId]) => leadId))];
    const pipeline = redis.pipeline();
    for (const leadId of leads) pipeline.hmget(keys.lead(leadId), leadHashField("tail"));
    const replies = (await pipeline.exec()) ?? [];
    const tails = new Map<string, Set<string>>();
    leads.forEach((leadId, index) => {
      const [error, values] = replies[index] ?? [null, null];
      const tail = error ? null : (values as (string | null)[])[0];
      const ids = new Set<string>();
      if (tail) for (const entry of JSON.parse(tail) as CompactEntry[]) ids.add(entry[0]);
      tails.set(leadId, ids);
    });
    for (const [id, leadId] of batch) {
      if (!tails.get(leadId)?.has(id)) continue;
      const sample = pending.get(id);
      if (!sample) continue;
      pending.delete(id);
      lags.record(Math.max(0, queryStart - sample.acceptedAt));
    }
  };

  let widestMs = options.pollIntervalMs;
  const loop = async () => {
    let previous: number | undefined;
    while (!stopped) {
      const started = performance.now();
      if (previous !== undefined) widestMs = Math.max(widestMs, started - previous);
      previous = started;
      await pollOnce().catch(() => undefined);
      const took = performance.now() - started;
      const wait = Math.max(options.pollIntervalMs, 5 * took) - took;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  polling = loop();

  return {
    offer(eventId, leadId, acceptedAt) {
      const now = performance.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        takenInWindow = 0;
      }
      if (takenInWindow >= options.samplesPerSecond) return;
      takenInWindow += 1;
      pending.set(eventId, { leadId, acceptedAt });
    },
    get pending() {
      return pending.size;
    },
    currentP99() {
      return lags.summary().p99;
    },
    async finish(timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      while (pending.size > 0 && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
      }
      stopped = true;
      await polling;
      const end = performance.now();
      for (const { acceptedAt } of pending.values()) lags.record(end - acceptedAt);
      return { ...lags.summary(), unseen: pending.size, pollIntervalMs: Math.round(widestMs) };
    },
  };
}
