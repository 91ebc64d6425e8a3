// Prometheus counters of the edge, rendered as text by `/metrics`. In-process: each edge instance reports its own.
import { byLabel, counterLines, createHistogram, prometheusText } from "@leadscore/runtime/prometheus";

/** Upper bounds (seconds) of the enqueue-latency histogram. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Upper bounds (bytes) of the inflated-size histogram: a refused bomb sits in the first two, a full batch near 1 MB. */
const INFLATED_BUCKETS = [16_384, 32_768, 65_536, 262_144, 1_048_576, 2_097_152];

export function createEdgeMetrics() {
  let accepted = 0;
  let duplicates = 0;
  let rateLimited = 0;
  let unavailable = 0;
  const rejected = new Map<string, number>();
  const enqueueDuration = createHistogram(
    "leadscore_enqueue_duration_seconds",
    "Time from a request's events being valid to their job being in Redis.",
    LATENCY_BUCKETS,
  );
  const gzipInflated = createHistogram(
    "leadscore_gzip_inflated_bytes",
    "Bytes each gzip request body inflated to before it was accepted or refused.",
    INFLATED_BUCKETS,
  );

  return {
    accepted(n: number) {
      accepted += n;
    },
    duplicates(n: number) {
      duplicates += n;
    },
    /** `reason`: a short snake_case cause such as `invalid_lead_id`, `unauthorized`, `too_large`. */
    rejected(reason: string, n = 1) {
      rejected.set(reason, (rejected.get(reason) ?? 0) + n);
    },
    rateLimited() {
      rateLimited += 1;
    },
    unavailable() {
      unavailable += 1;
    },
    enqueueLatency(seconds: number) {
      enqueueDuration.observe(seconds);
    },
    gzipInflated(bytes: number) {
      gzipInflated.observe(bytes);
    },
    snapshot() {
      return { accepted, duplicates, rateLimited, unavailable, rejected: Object.fromEntries(rejected) };
    },
    /** The counters as Prometheus text, followed by the given gauge lines. */
    render(gauges: string[] = []): string {
      return prometheusText([
        ...counterLines("leadscore_events_accepted_total", "Events accepted and queued.", accepted),
        ...counterLines(
          "leadscore_events_duplicate_total",
          "Events refused as repeats of an event id already seen.",
          duplicates,
        ),
        ...counterLines(
          "leadscore_events_rejected_total",
          "Events or requests refused, by reason.",
          byLabel("reason", rejected),
        ),
        ...counterLines("leadscore_requests_rate_limited_total", "Requests answered 429.", rateLimited),
        ...counterLines(
          "leadscore_requests_unavailable_total",
          "Requests answered 503 because the queue could not take them.",
          unavailable,
        ),
        ...enqueueDuration.lines(),
        ...gzipInflated.lines(),
        ...gauges,
      ]);
    },
  };
}
export type EdgeMetrics = ReturnType<typeof createEdgeMetrics>;
