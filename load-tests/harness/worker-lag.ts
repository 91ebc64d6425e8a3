// Acceptance → scored lag of every event, from the workers' own histogram (`leadscore_worker_lag_seconds`: the edge's
// acceptance time on the event to the commit of its score, late and deep-lane events included), summed over the
// workers and taken as the difference between a reading before the run and one after the drain. The lag probe
// samples from outside; this counts every event, to the resolution of the histogram's buckets.
import {
  type HistogramReading,
  histogramAtMost,
  histogramOf,
  histogramQuantile,
  histogramSince,
  parsePrometheus,
  type Sample,
} from "@leadscore/runtime/prometheus";

const LAG = "leadscore_worker_lag_seconds";

export interface WorkerLagSummary {
  /** Events the workers committed during the run. */
  count: number;
  /** Milliseconds, linear within a bucket; null above the last bucket (60 s). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Events committed within 1 s of acceptance, of `count`. */
  withinOneSecond: number;
}

/** The workers' lag histograms, summed; null when one cannot be read. */
export async function readWorkerLag(urls: readonly string[]): Promise<HistogramReading | null> {
  try {
    const samples: Sample[] = [];
    for (const url of urls) {
      const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) return null;
      samples.push(...parsePrometheus(await response.text()));
    }
    return histogramOf(samples, LAG);
  } catch {
    return null;
  }
}

export function workerLagSummary(after: HistogramReading, before: HistogramReading): WorkerLagSummary {
  const run = histogramSince(after, before);
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return {
    count: run.count,
    p50Ms: ms(histogramQuantile(run, 0.5)),
    p99Ms: ms(histogramQuantile(run, 0.99)),
    withinOneSecond: histogramAtMost(run, 1),
  };
}
