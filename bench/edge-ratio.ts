// Edge per core: `POST /api/events` (validate, de-duplicate, queue) against the same edge's `GET /healthz`, both
// driven by wrk with 64 connections, under Deno, with no worker (the queue only fills). The ratio of the two rates is
// what one edge process spends on an event beside the cost of just answering HTTP, and stays comparable when other
// work shares the machine; absolute rates do not.
//
//   npm run bench:edge-ratio [-- --duration 10 --connections 64 --rounds 3 --base /path/to/other/checkout]
//
// With `--base`, the edge of another checkout (with its node_modules) is measured too, alternating with this one,
// round by round, each against its own `/healthz`. Every request carries a fresh event id. Each edge gets its own
// Redis prefix, removed at the end.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { EVENTS_QUEUE } from "@leadscore/runtime";
import Queue from "bull";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { cpuSeconds, DENO_EDGE_ARGS, ROOT } from "../test-support/processes.ts";

const env = process.env;
const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: env.BENCH_DURATION ?? "10" },
    connections: { type: "string", default: env.BENCH_CONNECTIONS ?? "64" },
    rounds: { type: "string", default: env.BENCH_ROUNDS ?? "3" },
    base: { type: "string" },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);
const KEY = "bench-write-key";
const run = promisify(execFile);

interface Edge {
  label: string;
  child: ChildProcess;
  base: string;
  prefix: string;
  queue: InstanceType<typeof Queue>;
  /** The edge's database of its own (it seeds the default rules there), dropped at the end. */
  database: Awaited<ReturnType<typeof createTestDb>>;
}

async function startEdge(label: string, root: string): Promise<Edge> {
  const prefix = uniqueName("bench-edge-ratio");
  const database = await createTestDb(prefix);
  const child = spawn(join(root, "node_modules", ".bin", "deno"), DENO_EDGE_ARGS, {
    cwd: root,
    env: {
      ...process.env,
      PORT: "0",
      REDIS_URL,
      MONGO_URL: database.url,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: KEY,
      // The bench measures the pipeline, not the limits that protect it.
      RATE_LIMIT_PER_SECOND: "100000000",
      QUEUE_MAX_DEPTH: "1000000000",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`${label} edge did not start:\n${text}`)), 60_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = /"msg":"edge listening","port":(\d+)/.exec(text);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
  });
  return {
    label,
    child,
    base: `http://127.0.0.1:${port}`,
    prefix,
    queue: new Queue(EVENTS_QUEUE, REDIS_URL, { prefix }),
    database,
  };
}

/** wrk's request script: every request a fresh event id. */
function postScript(run: string): string {
  return `
local n = 0
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer ${KEY}"
request = function()
  n = n + 1
  local body = '{"event_id":"${run}-' .. n .. '","lead_id":"lead-' .. (n % 5000) .. '","event_type":"page_view"}'
  return wrk.format(nil, "/api/events", nil, body)
end
`;
}

interface Rate {
  perSecond: number;
  non2xx: number;
  cpuMicros: number;
}

async function wrk(edge: Edge, path: string, script?: string): Promise<Rate> {
  const cpuBefore = cpuSeconds(edge.child.pid);
  const argv = ["-t1", `-c${CONNECTIONS}`, `-d${DURATION}s`];
  if (script) argv.push("-s", script);
  const { stdout } = await run("wrk", [...argv, `${edge.base}${path}`]);
  const cpu = cpuSeconds(edge.child.pid) - cpuBefore;
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  return { perSecond, non2xx, cpuMicros: (cpu * 1e6) / Math.max(requests, 1) };
}

const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "edge-ratio-"));
  const redis = await createTestRedis("bench-edge-ratio");
  const edges: Edge[] = [await startEdge("this checkout", ROOT)];
  if (args.base) edges.push(await startEdge(`base (${args.base})`, args.base));
  const rows: string[] = [];
  console.log(
    `edge ratio: wrk, ${CONNECTIONS} connections, ${DURATION} s a measure, ${ROUNDS} rounds; ${cpus().length} cores, ` +
      `load average ${loadavg()[0]?.toFixed(2)} before the run (the box may be shared: compare ratios within a run)`,
  );
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which edge goes first, so neither always meets the same neighbours' load.
      const order = round % 2 === 1 ? edges : [...edges].reverse();
      for (const edge of order) {
        const health = await wrk(edge, "/healthz");
        const script = join(dir, `${edge.prefix}-${round}.lua`);
        await writeFile(script, postScript(`${edge.prefix}-${round}`));
        const events = await wrk(edge, "/api/events", script);
        await edge.queue.empty();
        const row = [
          String(round),
          edge.label,
          fixed(health.perSecond),
          fixed(events.perSecond),
          `${(events.perSecond / health.perSecond).toFixed(2)}×`,
          fixed(health.cpuMicros, 1),
          fixed(events.cpuMicros, 1),
          String(events.non2xx + health.non2xx),
        ];
        rows.push(`| ${row.join(" | ")} |`);
        console.log(`  ${row.join("  ")}`);
      }
    }
  } finally {
    for (const edge of edges) {
      edge.child.kill("SIGTERM");
      await edge.queue.obliterate({ force: true }).catch(() => undefined);
      await edge.queue.close();
      await (await createTestRedis(edge.prefix)).cleanup();
      await edge.database.drop();
    }
    await redis.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    [
      "",
      "| round | edge | /healthz req/s | POST /api/events req/s | ratio | /healthz CPU µs/req | events CPU µs/event | non-2xx |",
      "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
}

await main();
