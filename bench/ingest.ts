// Ingest benchmark: the edge under Deno against a naive per-event `queue.add` handler (also Deno), same Redis, same
// load generator (autocannon, in this Node process), one run.
//
//   npm run bench:ingest [-- --duration 10 --connections 64]
//
// Scenarios: single-event POST /api/events, 100-event POST /api/batch, GET /p.gif. Every request carries fresh
// event ids, so each one is validated, de-duplicated (a miss) and queued. Queues are emptied between scenarios.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EVENTS_QUEUE } from "@leadscore/contracts";
import autocannon from "autocannon";
import Queue from "bull";
import { createTestRedis, MONGO_URL, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, ROOT, type RunningProcess, startProcess } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    "batch-size": { type: "string", default: "100" },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const BATCH = Number(args["batch-size"]);
const KEY = "bench-write-key";

interface Figures {
  requestsPerSecond: number;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

type Scenario = "single" | "batch" | "pixel";

function requestFor(scenario: Scenario, base: string, run: string): autocannon.Options {
  let n = 0;
  const event = () => {
    n += 1;
    return { event_id: `${run}-${n}`, lead_id: `lead-${n % 5000}`, event_type: "page_view" };
  };
  const headers = { "content-type": "application/json", authorization: `Bearer ${KEY}` };
  if (scenario === "single") {
    return {
      url: base,
      requests: [
        {
          method: "POST",
          path: "/api/events",
          headers,
          setupRequest: (req) => ({ ...req, body: JSON.stringify(event()) }),
        },
      ],
    };
  }
  if (scenario === "batch") {
    return {
      url: base,
      requests: [
        {
          method: "POST",
          path: "/api/batch",
          headers,
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ events: Array.from({ length: BATCH }, event) }) }),
        },
      ],
    };
  }
  return {
    url: base,
    requests: [
      {
        method: "GET",
        setupRequest: (req) => {
          const e = event();
          return { ...req, path: `/p.gif?lead_id=${e.lead_id}&event_type=page_view&event_id=${e.event_id}&key=${KEY}` };
        },
      },
    ],
  };
}

async function load(scenario: Scenario, base: string, run: string): Promise<Figures> {
  const result = await autocannon({ ...requestFor(scenario, base, run), connections: CONNECTIONS, duration: DURATION });
  const perRequest = scenario === "batch" ? BATCH : 1;
  const ok = result.requests.total - result.non2xx;
  return {
    requestsPerSecond: ok / DURATION,
    eventsPerSecond: (ok * perRequest) / DURATION,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function startServer(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ proc: RunningProcess; base: string }> {
  const proc = startProcess(join(BIN, "deno"), args, env);
  const [, port] = await proc.waitFor(ready, 60_000);
  return { proc, base: `http://127.0.0.1:${port}` };
}

async function main() {
  const prefix = uniqueName("bench");
  const naivePrefix = `${prefix}-naive`;
  const redis = await createTestRedis(prefix);
  const naiveRedis = await createTestRedis(naivePrefix);
  const queue = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix });
  const naiveQueue = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix: naivePrefix });
  const common = { REDIS_URL, MONGO_URL, LOG_LEVEL: "warn" };
  const edge = await startServer(
    DENO_EDGE_ARGS,
    {
      ...common,
      PORT: "0",
      REDIS_PREFIX: prefix,
      WRITE_KEYS: KEY,
      RATE_LIMIT_PER_SECOND: "100000000",
      QUEUE_MAX_DEPTH: "1000000000",
      LOG_LEVEL: "info",
    },
    /"msg":"edge listening","port":(\d+)/,
  );
  const naive = await startServer(
    ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", join(ROOT, "bench", "naive-edge.ts")],
    { ...common, REDIS_PREFIX: naivePrefix },
    /naive listening (\d+)/,
  );
  const rows: string[] = [];
  try {
    console.log(`ingest benchmark: ${DURATION} s per scenario, ${CONNECTIONS} connections, batches of ${BATCH}`);
    for (const scenario of ["single", "batch", "pixel"] as const) {
      const ours = await load(scenario, edge.base, `${prefix}-${scenario}`);
      await queue.empty();
      const baseline = await load(scenario, naive.base, `${naivePrefix}-${scenario}`);
      await naiveQueue.empty();
      const row = [
        scenario,
        Math.round(ours.eventsPerSecond).toLocaleString("en-US"),
        `${ours.p50} / ${ours.p99}`,
        `${ours.non2xx + ours.errors}`,
        Math.round(baseline.eventsPerSecond).toLocaleString("en-US"),
        `${baseline.p50} / ${baseline.p99}`,
        `${(ours.eventsPerSecond / Math.max(baseline.eventsPerSecond, 1)).toFixed(1)}×`,
      ];
      rows.push(`| ${row.join(" | ")} |`);
      console.log(`  ${scenario}: ${row.slice(1).join("  ")}`);
    }
  } finally {
    await edge.proc.stop("SIGTERM");
    await naive.proc.stop("SIGTERM");
    await queue.obliterate({ force: true }).catch(() => undefined);
    await naiveQueue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await naiveQueue.close();
    await redis.cleanup();
    await naiveRedis.cleanup();
  }
  console.log(
    [
      "",
      "| scenario | edge events/s | edge p50 / p99 ms | edge errors | naive events/s | naive p50 / p99 ms | ratio |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
}

await main();
