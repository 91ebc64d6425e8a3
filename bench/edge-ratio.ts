// Edge per core: `POST /api/events` (validate, de-duplicate, queue) against the same edge's `GET /healthz`, both
// driven by wrk with 64 connections, under Deno, with no worker (the queue only fills). The ratio of the two rates is
// what one edge process spends on an event beside the cost of just answering HTTP. It moves less than the absolute
// rates when other work shares the machine, but does move: wrk, Redis and the edge share the cores, and the edge does
// not fill its own on either path (about 60% of a core on `/healthz`, 75% on events, measured on 2 shared cores), so
// both rates follow the neighbours' load too. Compare edges within a run, over several rounds.
//
//   npm run bench:edge-ratio [-- --duration 10 --warmup 2 --connections 64 --rounds 3 --base /path/to/other/checkout]
//
// With `--base`, the edge of another checkout (with its node_modules) is measured too, alternating with this one,
// round by round, each against its own `/healthz`. Every request carries a fresh event id.
//
// Every round starts each edge afresh (its own Redis prefix and database, removed when it stops) and warms it up on
// both paths before measuring: one process of the same code can stay 10–20% faster or slower than another for its
// whole life (what V8 inlines, where it is scheduled beside wrk and Redis), so rounds of the same two processes only
// average the noise of the moment, not that of the process. The summary gives each edge's medians and spreads.
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
    warmup: { type: "string", default: env.BENCH_WARMUP ?? "2" },
    connections: { type: "string", default: env.BENCH_CONNECTIONS ?? "64" },
    rounds: { type: "string", default: env.BENCH_ROUNDS ?? "3" },
    base: { type: "string" },
  },
});
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
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

async function wrk(edge: Edge, path: string, script?: string, seconds = DURATION): Promise<Rate> {
  const cpuBefore = cpuSeconds(edge.child.pid);
  const argv = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`];
  if (script) argv.push("-s", script);
  const { stdout } = await run("wrk", [...argv, `${edge.base}${path}`]);
  const cpu = cpuSeconds(edge.child.pid) - cpuBefore;
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  return { perSecond, non2xx, cpuMicros: (cpu * 1e6) / Math.max(requests, 1) };
}

const fixed = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits });

async function stopEdge(edge: Edge): Promise<void> {
  if (edge.child.exitCode === null && edge.child.signalCode === null) {
    const exited = new Promise((resolve) => edge.child.once("exit", resolve));
    edge.child.kill("SIGTERM");
    await exited;
  }
  await edge.queue.obliterate({ force: true }).catch(() => undefined);
  await edge.queue.close();
  await (await createTestRedis(edge.prefix)).cleanup();
  await edge.database.drop();
}

/** One round of one edge: /healthz then events, each after a warm-up of its own. */
interface Round {
  health: Rate;
  events: Rate;
}

async function measure(edge: Edge, dir: string): Promise<Round> {
  const script = async (name: string) => {
    const path = join(dir, `${edge.prefix}-${name}.lua`);
    await writeFile(path, postScript(`${edge.prefix}-${name}`));
    return path;
  };
  if (WARMUP > 0) await wrk(edge, "/healthz", undefined, WARMUP);
  const health = await wrk(edge, "/healthz");
  if (WARMUP > 0) await wrk(edge, "/api/events", await script("warmup"), WARMUP);
  await edge.queue.empty();
  const events = await wrk(edge, "/api/events", await script("run"));
  return { health, events };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** `median [min–max]` of a column. */
function spread(values: number[], format: (n: number) => string): string {
  return `${format(median(values))} [${format(Math.min(...values))}–${format(Math.max(...values))}]`;
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "edge-ratio-"));
  const checkouts = [{ label: "this checkout", root: ROOT }];
  if (args.base) checkouts.push({ label: `base (${args.base})`, root: args.base });
  const measured = new Map<string, Round[]>(checkouts.map((checkout) => [checkout.label, []]));
  const rows: string[] = [];
  console.log(
    `edge ratio: wrk, ${CONNECTIONS} connections, ${DURATION} s a measure after ${WARMUP} s of warm-up, ${ROUNDS} rounds ` +
      `of fresh edge processes; ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(2)} before the run ` +
      "(the box may be shared: compare ratios within a run)",
  );
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which edge goes first, so neither always meets the same neighbours' load.
      const order = round % 2 === 1 ? checkouts : [...checkouts].reverse();
      for (const checkout of order) {
        const edge = await startEdge(checkout.label, checkout.root);
        let result: Round;
        try {
          result = await measure(edge, dir);
        } finally {
          await stopEdge(edge);
        }
        measured.get(checkout.label)?.push(result);
        const { health, events } = result;
        const row = [
          String(round),
          checkout.label,
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
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    [
      "",
      "| round | edge | /healthz req/s | POST /api/events req/s | ratio | /healthz CPU µs/req | events CPU µs/event | non-2xx |",
      "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "Medians [min–max] over the rounds:",
      ...[...measured].map(([label, rounds]) =>
        [
          `  ${label}: /healthz ${spread(
            rounds.map((r) => r.health.perSecond),
            (n) => fixed(n),
          )} req/s, events ${spread(
            rounds.map((r) => r.events.perSecond),
            (n) => fixed(n),
          )} req/s,`,
          `    ratio ${spread(
            rounds.map((r) => r.events.perSecond / r.health.perSecond),
            (n) => `${n.toFixed(2)}×`,
          )}, edge CPU /healthz ${spread(
            rounds.map((r) => r.health.cpuMicros),
            (n) => fixed(n, 1),
          )} µs, an event ${spread(
            rounds.map((r) => r.events.cpuMicros),
            (n) => fixed(n, 1),
          )} µs`,
        ].join("\n"),
      ),
    ].join("\n"),
  );
}

await main();
