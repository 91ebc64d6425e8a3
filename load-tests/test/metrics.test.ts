import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parsePrometheus } from "@leadscore/runtime/prometheus";
import { describe, expect, it } from "vitest";
import { createMetricsDepthReader, pendingJobsFrom, queueDepthFrom } from "../harness/metrics.ts";

const TEXT = `# HELP leadscore_events_accepted_total Events accepted
# TYPE leadscore_events_accepted_total counter
leadscore_events_accepted_total 1200
leadscore_events_rejected_total{reason="validation"} 3
leadscore_queue_depth{state="waiting"} 40
leadscore_queue_depth{state="active"} 2
leadscore_queue_depth{state="completed"} 9000
leadscore_queue_jobs{state="waiting"} 4
leadscore_queue_jobs{state="active"} 1
leadscore_queue_jobs{state="completed"} 700
leadscore_queue_jobs{state="failed"} 2
leadscore_queue_jobs{state="delayed"} 0
`;

describe("the Prometheus reader", () => {
  it("reads names, labels and values and skips comments", () => {
    const samples = parsePrometheus(TEXT);
    expect(samples).toHaveLength(10);
    expect(samples[1]).toEqual({ name: "leadscore_events_rejected_total", labels: { reason: "validation" }, value: 3 });
  });

  it("sums the queue depth over pending states only", () => {
    expect(queueDepthFrom(parsePrometheus(TEXT))).toBe(42);
  });

  it("counts unfinished jobs (waiting, active, delayed) apart from finished ones", () => {
    expect(pendingJobsFrom(parsePrometheus(TEXT))).toBe(5);
  });

  it("answers null when the edge exports no queue figures", () => {
    const samples = parsePrometheus("leadscore_events_accepted_total 5\n");
    expect(queueDepthFrom(samples)).toBeNull();
    expect(pendingJobsFrom(samples)).toBeNull();
  });
});

describe("the /metrics depth reader", () => {
  it("sends the deployment's metrics token, and reads nothing where one is required and not given", async () => {
    const server = createServer((req, res) => {
      if (req.headers.authorization !== "Bearer scrape-token") return void res.writeHead(401).end();
      res.writeHead(200, { "content-type": "text/plain" }).end(TEXT);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      expect(await createMetricsDepthReader(url, "scrape-token").read()).toEqual({ depth: 42, pendingJobs: 5 });
      expect(await createMetricsDepthReader(url).read()).toBeNull();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
