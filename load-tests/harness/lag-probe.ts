// Acceptance → scored lag, measured on a sample of accepted events: each is polled for in score_history and its
// lag is the start of the first query that found it minus the moment its 202 arrived (both on this machine's
// clock). The figure is an upper bound, at most one poll interval high. The probe waits at least 4× its last query's
// time between polls, so it never takes more than a fifth of the server from the system it measures: on a server that
// scans for every query (FerretDB) the interval stretches, and the summary reports the widest one used.
import { COLLECTIONS, type HistoryDocument } from "@leadscore/contracts";
import type { Db } from "mongodb";
import { createLatencyRecorder, type LatencySummary } from "./stats.ts";

export interface LagProbeOptions {
  db: Db;
  /** Samples taken per second at most, whatever the event rate. */
  samplesPerSecond: number;
  pollIntervalMs: number;
  /** Ids polled in one query at most; the oldest go first. */
  batchLimit: number;
}

export interface LagSummary extends LatencySummary {
  /**
   * Sampled events never seen in score_history by the end. They are counted in the percentiles with their age at
   * the end, so the figures are lower bounds whenever this is not 0.
   */
  unseen: number;
  /** The widest interval between two polls: how far above the truth a figure may be. */
  pollIntervalMs: number;
}

export interface LagProbe {
  /** Offers an accepted event; the probe keeps it if its sampling budget allows. */
  offer(eventId: string, acceptedAt: number): void;
  readonly pending: number;
  /** Live p99 of the samples found so far. */
  currentP99(): number;
  /** Polls until every sample is found or `timeoutMs` passes, then stops. */
  finish(timeoutMs: number): Promise<LagSummary>;
}

export function createLagProbe(options: LagProbeOptions): LagProbe {
  const history = options.db.collection<HistoryDocument>(COLLECTIONS.history);
  const pending = new Map<string, number>();
  const lags = createLatencyRecorder();
  let windowStart = performance.now();
  let takenInWindow = 0;
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();

  const pollOnce = async () => {
    if (pending.size === 0) return;
    const queryStart = performance.now();
    const ids: string[] = [];
    for (const [id, acceptedAt] of pending) {
      if (acceptedAt > queryStart) continue;
      ids.push(id);
      if (ids.length >= options.batchLimit) break;
    }
    if (ids.length === 0) return;
    const found = await history.find({ _id: { $in: ids } }, { projection: { _id: 1 } }).toArray();
    for (const doc of found) {
      const acceptedAt = pending.get(doc._id);
      if (acceptedAt === undefined) continue;
      pending.delete(doc._id);
      lags.record(Math.max(0, queryStart - acceptedAt));
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
    offer(eventId, acceptedAt) {
      const now = performance.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        takenInWindow = 0;
      }
      if (takenInWindow >= options.samplesPerSecond) return;
      takenInWindow += 1;
      pending.set(eventId, acceptedAt);
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
      for (const acceptedAt of pending.values()) lags.record(end - acceptedAt);
      return { ...lags.summary(), unseen: pending.size, pollIntervalMs: Math.round(widestMs) };
    },
  };
}
