import { describe, expect, it } from "vitest";
import { parsePrometheus, queueDepthFrom } from "../harness/metrics.ts";

const TEXT = `# HELP leadscore_events_accepted_total Events accepted
# TYPE leadscore_events_accepted_total counter
leadscore_events_accepted_total 1200
leadscore_events_rejected_total{reason="validation"} 3
leadscore_queue_depth{state="waiting"} 40
leadscore_queue_depth{state="active"} 2
leadscore_queue_depth{state="completed"} 9000
`;

describe("the Prometheus reader", () => {
  it("reads names, labels and values and skips comments", () => {
    const samples = parsePrometheus(TEXT);
    expect(samples).toHaveLength(5);
    expect(samples[1]).toEqual({ name: "leadscore_events_rejected_total", labels: { reason: "validation" }, value: 3 });
  });

  it("sums the queue depth over pending states only", () => {
    expect(queueDepthFrom(parsePrometheus(TEXT))).toBe(42);
  });

  it("answers null when the edge exports no queue depth", () => {
    expect(queueDepthFrom(parsePrometheus("leadscore_events_accepted_total 5\n"))).toBeNull();
  });
});
