// Latency bookkeeping: every sample is kept (8 bytes each) so percentiles are exact, not bucketed.
import { quantile } from "@leadscore/runtime";

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LatencyRecorder {
  record(ms: number): void;
  readonly count: number;
  summary(): LatencySummary;
  reset(): void;
}

export function createLatencyRecorder(initialCapacity = 1024): LatencyRecorder {
  let values = new Float64Array(initialCapacity);
  let count = 0;
  return {
    record(ms) {
      if (count === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
      values[count++] = ms;
    },
    get count() {
      return count;
    },
    summary() {
      if (count === 0)
        return { count: 0, mean: Number.NaN, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN };
      const sorted = values.slice(0, count).sort();
      let sum = 0;
      for (let i = 0; i < count; i++) sum += sorted[i] as number;
      return {
        count,
        mean: sum / count,
        p50: quantile(sorted, 0.5),
        p90: quantile(sorted, 0.9),
        p99: quantile(sorted, 0.99),
        max: sorted[count - 1] as number,
      };
    },
    reset() {
      count = 0;
    },
  };
}

/** Milliseconds rounded for reports: two decimals under 10 ms, one under 100, whole above. */
export function roundMs(ms: number): number {
  if (!Number.isFinite(ms)) return ms;
  if (ms < 10) return Math.round(ms * 100) / 100;
  if (ms < 100) return Math.round(ms * 10) / 10;
  return Math.round(ms);
}
