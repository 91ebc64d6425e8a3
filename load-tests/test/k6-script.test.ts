import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// k6's modules exist only inside k6; these stand-ins record what the script asks of them.
const requests: { method: string; url: string; body: string | null; params: Record<string, unknown> }[] = [];
const metrics = new Map<string, number>();
const checks: boolean[] = [];

vi.mock("k6", () => ({
  check: (value: unknown, sets: Record<string, (v: unknown) => boolean>) => {
    for (const fn of Object.values(sets)) checks.push(fn(value));
    return true;
  },
}));
vi.mock("k6/metrics", () => ({
  Counter: class {
    constructor(readonly name: string) {}
    add(value: number) {
      metrics.set(this.name, (metrics.get(this.name) ?? 0) + value);
    }
  },
}));
vi.mock("k6/http", () => {
  // A stand-in edge that keeps the contract: refuses events stamped over 5 minutes ahead, answers repeats as duplicates.
  const seen = new Set<string>();
  const judge = (event: { event_id: string; timestamp: number }) => {
    if (event.timestamp > Date.now() + 300_000) return "rejected";
    if (seen.has(event.event_id)) return "duplicate";
    seen.add(event.event_id);
    return "accepted";
  };
  return {
    default: {
      expectedStatuses: (...statuses: number[]) => ({ statuses }),
      request(method: string, url: string, body: string | null, params: Record<string, unknown>) {
        requests.push({ method, url, body, params });
        const parsed = new URL(url);
        if (parsed.pathname === "/api/batch") {
          const { events } = JSON.parse(body ?? "{}") as { events: { event_id: string; timestamp: number }[] };
          const results = events.map((event, index) => ({ index, event_id: event.event_id, status: judge(event) }));
          return { status: 202, body: JSON.stringify({ results }) };
        }
        if (parsed.pathname === "/api/events") {
          const verdict = judge(JSON.parse(body ?? "{}"));
          if (verdict === "rejected") return { status: 400, body: '{"error":{}}' };
          return {
            status: verdict === "accepted" ? 202 : 200,
            body: JSON.stringify({ duplicate: verdict !== "accepted" }),
          };
        }
        if (parsed.pathname === "/p.gif") {
          const q = parsed.searchParams;
          judge({ event_id: q.get("event_id") ?? "", timestamp: Number(q.get("ts")) });
          return { status: 200, body: null };
        }
        const beacon = JSON.parse(body ?? "{}") as { events?: { event_id: string; timestamp: number }[] };
        for (const event of beacon.events ?? [beacon as { event_id: string; timestamp: number }]) judge(event);
        return { status: 204, body: null };
      },
    },
  };
});

const globals = globalThis as unknown as { __ENV: Record<string, string>; __VU: number };

describe("the k6 script", () => {
  beforeEach(() => {
    vi.resetModules();
    requests.length = 0;
    metrics.clear();
    checks.length = 0;
    globals.__VU = 1;
  });
  afterEach(() => {
    globals.__ENV = {};
  });

  it("runs the scenario WORKLOAD names with an arrival-rate executor and a threshold per target", async () => {
    globals.__ENV = { WORKLOAD: "stress", RATE: "1000", BASE_URL: "http://edge:9000/" };
    const script = await import("../k6/main.ts");
    const scenario = script.options.scenarios?.stress;
    expect(scenario).toMatchObject({ executor: "ramping-arrival-rate", exec: "ingest", maxVUs: 512 });
    expect(Object.keys(script.options.thresholds ?? {})).toEqual(
      expect.arrayContaining([
        "http_req_failed",
        "http_req_duration",
        "dropped_iterations",
        "http_req_duration{endpoint:pixel}",
      ]),
    );
    const stages = (scenario as { stages: { target: number }[] }).stages;
    expect(Math.max(...stages.map((s) => s.target))).toBe(1000);
  });

  it("sends the realistic mix to every endpoint and reads each answer per event", async () => {
    globals.__ENV = { CI: "1", BASE_URL: "http://edge:9000", WRITE_KEY: "key-1" };
    const script = await import("../k6/mix.ts");
    expect(script.options.scenarios?.mix).toMatchObject({
      executor: "constant-arrival-rate",
      rate: 200,
      duration: "10s",
    });
    const data = script.setup();
    for (let i = 0; i < 400; i++) script.ingest(data);
    const endpoints = new Set(requests.map((r) => (r.params.tags as { endpoint: string }).endpoint));
    expect([...endpoints].sort()).toEqual(["batch", "beacon", "event", "pixel"]);
    expect(requests.every((r) => r.url.startsWith("http://edge:9000/"))).toBe(true);
    expect(requests.find((r) => r.url.includes("/api/events"))?.params.headers).toMatchObject({
      authorization: "Bearer key-1",
    });
    expect(metrics.get("events_sent")).toBeGreaterThan(400);
    expect(metrics.get("events_rejected")).toBeGreaterThan(0);
    expect(metrics.get("events_duplicate")).toBeGreaterThan(0);
    expect(metrics.get("events_error") ?? 0).toBe(0);
    expect(checks).toHaveLength(400);
    expect(checks.every(Boolean)).toBe(true);
  });

  it("refuses an unknown WORKLOAD", async () => {
    globals.__ENV = { WORKLOAD: "everything" };
    await expect(import("../k6/main.ts")).rejects.toThrow(/WORKLOAD must be one of/);
  });
});
