// @vitest-environment happy-dom

import { parsePrometheus, sumOf } from "@leadscore/contracts/prometheus";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { averageScore, createHeadlineModel, ingestFigures } from "../src/headline/model.ts";
import { fakeApi, fakeRealtime, lead, page } from "./fakes.ts";

const METRICS = `# HELP leadscore_events_accepted_total Events accepted
# TYPE leadscore_events_accepted_total counter
leadscore_events_accepted_total 42
leadscore_events_rejected_total{reason="invalid_lead_id"} 3
leadscore_events_rejected_total{reason="unauthorized"} 2
leadscore_queue_depth 7
leadscore_queue_lag_seconds 0.500
leadscore_enqueue_duration_seconds_bucket{le="+Inf"} 6
weird{label="a \\"quoted\\" value"} 1.5e3
`;

describe("reading /metrics", () => {
  it("parses samples with labels, escapes and exponents, skipping comments", () => {
    const samples = parsePrometheus(METRICS);
    expect(samples).toHaveLength(7);
    expect(samples.at(-1)).toEqual({ name: "weird", labels: { label: 'a "quoted" value' }, value: 1500 });
  });

  it("sums a metric over its label sets", () => {
    const samples = parsePrometheus(METRICS);
    expect(sumOf(samples, "leadscore_events_rejected_total")).toBe(5);
    expect(sumOf(samples, "nope")).toBeNull();
  });

  it("gives the headline ingestion figures", () => {
    expect(ingestFigures(parsePrometheus(METRICS))).toEqual({ accepted: 42, queueDepth: 7, lagSeconds: 0.5 });
  });

  it("leaves out what is not reported", () => {
    expect(ingestFigures(parsePrometheus("other_metric 1\n"))).toEqual({
      accepted: null,
      queueDepth: null,
      lagSeconds: null,
    });
  });
});

describe("the headline figures", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("averages the scores given", () => {
    expect(averageScore([{ current_score: 10 }, { current_score: 30 }])).toBe(20);
    expect(averageScore([])).toBeNull();
  });

  it("count leads in total and by stage from X-Total-Count, and survive a missing /metrics", async () => {
    const api = fakeApi({
      listLeads: vi.fn(async (query) => {
        if (query.stage) return page([], query.stage === "hot" ? 3 : 1);
        return page([lead({ _id: "a", current_score: 100 }), lead({ _id: "b", current_score: 300 })], 6);
      }),
      metrics: vi.fn(async () => {
        throw new Error("404");
      }),
    });
    const model = createHeadlineModel({ api, realtime: fakeRealtime().realtime });
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("ready");
    expect(model.leads.value).toEqual({
      total: 6,
      byStage: { cold: 1, warm: 1, hot: 3, qualified: 1 },
      averageScore: 200,
      averageOver: 2,
    });
    expect(model.metricsAvailable.value).toBe(false);
  });
});
