// Pass/fail criteria of a k6 run, each tied to the target it checks.
import type { Threshold } from "k6/options";
import { ENDPOINTS } from "../../src/requests.ts";
import type { Targets } from "../../src/scenarios.ts";

export function thresholdsFor(targets: Targets, scheduledIterations: number): Record<string, Threshold[]> {
  const thresholds: Record<string, Threshold[]> = {
    // Target: at most maxFailedRate (0.1%) of requests answered outside the HTTP contract — a 5xx, 429, 401 or a
    // 400 for a valid event; DESIGN.md: "never 5xx" for duplicates, 503 only when Redis cannot take the event.
    http_req_failed: [`rate<=${targets.maxFailedRate}`],
    // Target: p99 ≤ targets.p99Ms over all endpoints (DESIGN.md: ingest p99 ≤ 20 ms).
    http_req_duration: [`p(99)<=${targets.p99Ms}`],
    // Target: at most maxDroppedRate (1%) of scheduled iterations dropped for want of a free VU; beyond that the
    // generator, not the edge, set the rate and the latency figures understate the queueing.
    dropped_iterations: [`count<=${Math.max(0, Math.floor(scheduledIterations * targets.maxDroppedRate))}`],
    // Target: ≥ 99.9% of events get the answer the contract promises for what was sent (accepted, duplicate,
    // refused), read from the response body, not only the status.
    checks: [`rate>=${1 - targets.maxFailedRate}`],
  };
  for (const endpoint of ENDPOINTS) {
    // Target: the same p99 for each endpoint on its own, so a fast one cannot hide a slow one in the mix.
    thresholds[`http_req_duration{endpoint:${endpoint}}`] = [`p(99)<=${targets.p99Ms}`];
  }
  return thresholds;
}
