// Ingest benchmark: the edge under Deno against a naive handler that calls `queue.add` once per event (also under
// Deno, bench/naive-edge.ts), same Redis, same load generator (autocannon, in this Node process), one run.
//
//   npm run bench:ingest [-- --duration 10 --connections 64 --batch-size 100 --pipelining 1]
//
// (or BENCH_DURATION, BENCH_CONNECTIONS, BENCH_BATCH_SIZE, BENCH_PIPELINING). Scenarios: single-event
// POST /api/events, 100-event POST /api/batch, GET /p.gif. Every request carries fresh event ids, so each event is
// validated, de-duplicated (a miss) and queued. Each server gets its own Redis prefix; the queues are emptied after
// every scenario and removed at the end. Besides throughput and latency it reports each server's CPU time per event
// (Linux), which stays comparable when other work shares the machine.
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EVENTS_QUEUE } from "@leadscore/runtime";
import autocannon from "autocannon";
import Queue from "bull";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { BIN, cpuSeconds, DENO_EDGE_ARGS, ROOT, type RunningProcess, startProcess } from "../test-support/processes.ts";

const env = process.env;
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: env.BENCH_DURATION ?? "10" },
    connections: { type: "string", default: env.BENCH_CONNECTIONS ?? "64" },
    "batch-size": { type: "string", default: env.BENCH_BATCH_SIZE ?? "100" },
    pipelining: { type: "string", default: env.BENCH_PIPELINING ?? "1" },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const BATCH = Number(args["batch-size"]);
const PIPELINING = Number(args.pipelining);
const KEY = "bench-write-key";

type Scenario = "single" | "batch" | "pixel";

interface Figures {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  failed: number;
  /** Server CPU time per accepted event, µs; NaN where /proc is not available. */
  cpuMicros: number;
}

function requestFor(scenario: Scenario, run: string): autocannon.Request {
  let n = 0;
  const event = () => {
    n += 1;
    return { event_id: `${run}-${n}`, lead_id: `lead-${n % 5000}`, event_type: "page_view" };
  };
  const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };
  if (scenario === "single") {
    return {
      method: "POST",
      path: "/api/events",
      headers,
      setupRequest: (req) => ({ ...req, body: JSON.stringify(event()) }),
    };
  }
  if (scenario === "batch") {
    const body = () => JSON.stringify({ events: Array.from({ length: BATCH }, event) });
    return { method: "POST", path: "/api/batch", headers, setupRequest: (req) => ({ ...req, body: body() }) };
  }
  return {
    method: "GET",
    setupRequest: (req) => {
      const e = event();
      return { ...req, path: `/p.gif?lead_id=${e.lead_id}&event_type=page_view&event_id=${e.event_id}&key=${KEY}` };
    },
  };
}

async function load(scenario: Scenario, server: Server, run: string): Promise<Figures> {
  const cpuBefore = cpuSeconds(server.proc.child.pid);
  const result = await autocannon({
    url: server.base,
    requests: [requestFor(scenario, run)],
    connections: CONNECTIONS,
    pipelining: PIPELINING,
    duration: DURATION,
  });
  const cpu = cpuSeconds(server.proc.child.pid) - cpuBefore;
  const ok = result.requests.total - result.non2xx;
  const events = ok * (scenario === "batch" ? BATCH : 1);
  return {
    eventsPerSecond: events / DURATION,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuMicros: (cpu * 1e6) / Math.max(events, 1),
  };
}

interface Server {
  proc: RunningProcess;
  base: string;
}

async function startServer(args: string[], env: Record<string, string>, ready: RegExp): Promise<Server> {
  const proc = startProcess(join(BIN, "deno"), args, env);
  const [, port] = await proc.waitFor(ready, 60_000);
  return { proc, base: `http://127.0.0.1:${port}` };
}

const count = (n: number) => Math.round(n).toLocaleString("en-US");
const micros = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a");

async function main() {
  const prefix = uniqueName("bench-ingest");
  const naivePrefix = `${prefix}-naive`;
  const redis = await createTestRedis(prefix);
  const naiveRedis = await createTestRedis(naivePrefix);
  // A database of the run's own: the edge seeds the default rules and creates its indexes there.
  const database = await createTestDb(prefix);
  const queue = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix });
  const naiveQueue = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix: naivePrefix });
  const common = { REDIS_URL, MONGO_URL: database.url, LOG_LEVEL: "warn" };
  let edge: Server | undefined;
  let naive: Server | undefined;
  const rows: string[] = [];
  try {
    edge = await startServer(
      DENO_EDGE_ARGS,
      {
        ...common,
        PORT: "0",
        REDIS_PREFIX: prefix,
        WRITE_KEYS: KEY,
        // The bench measures the pipeline, not the limits that protect it.
        RATE_LIMIT_PER_SECOND: "100000000",
        QUEUE_MAX_DEPTH: "1000000000",
        LOG_LEVEL: "info",
      },
      /"msg":"edge listening","port":(\d+)/,
    );
    naive = await startServer(
      ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", join(ROOT, "bench", "naive-edge.ts")],
      { ...common, REDIS_PREFIX: naivePrefix },
      /naive listening (\d+)/,
    );
    console.log(
      `ingest benchmark: ${DURATION} s per scenario, ${CONNECTIONS} connections, pipelining ${PIPELINING}, ` +
        `batches of ${BATCH}; ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)} before the run`,
    );
    for (const scenario of ["single", "batch", "pixel"] as const) {
      const ours = await load(scenario, edge, `${prefix}-${scenario}`);
      await queue.empty();
      const baseline = await load(scenario, naive, `${naivePrefix}-${scenario}`);
      await naiveQueue.empty();
      const row = [
        scenario === "batch" ? `batch of ${BATCH}` : scenario,
        count(ours.eventsPerSecond),
        `${ours.p50} / ${ours.p99}`,
        micros(ours.cpuMicros),
        String(ours.failed),
        count(baseline.eventsPerSecond),
        `${baseline.p50} / ${baseline.p99}`,
        micros(baseline.cpuMicros),
        `${(ours.eventsPerSecond / Math.max(baseline.eventsPerSecond, 1)).toFixed(1)}×`,
      ];
      rows.push(`| ${row.join(" | ")} |`);
      console.log(`  ${row.join("  ")}`);
    }
  } finally {
    await edge?.proc.stop("SIGTERM");
    await naive?.proc.stop("SIGTERM");
    await queue.obliterate({ force: true }).catch(() => undefined);
    await naiveQueue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await naiveQueue.close();
    await redis.cleanup();
    await naiveRedis.cleanup();
    await database.drop();
  }
  console.log(
    [
      "",
      "| scenario | edge events/s | edge p50 / p99 ms | edge CPU µs/event | edge failed | naive events/s | naive p50 / p99 ms | naive CPU µs/event | ratio |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "naive: Hono on Deno, one `queue.add` per event, no validation or de-duplication. Failed: non-2xx, errors, timeouts.",
    ].join("\n"),
  );
}

await main();
