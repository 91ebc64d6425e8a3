// Gzip bomb benchmark: the edge under Deno, probed on `/healthz` while eight senders post, back to back, 1 MB gzip
// bodies that inflate to 1 GB to `POST /api/batch` (issue #14's reproduction), against the same probe with the
// edge idle. Two reference runs put the figures in proportion: the same senders posting a body the edge never
// reads (a wrong write key: 401), and a plain 1 MB body, the largest the edge accepts (400: it is not JSON).
//
//   npm run bench:bombs [-- --parallel 8 --attack 3 --mebibytes 1000]
//
// (or BENCH_PARALLEL, BENCH_ATTACK_SECONDS, BENCH_BOMB_MEBIBYTES). Each run gets a fresh edge, so its memory
// figures are its own. Prints `/healthz` p50/p99/max idle and under attack, the edge's resident memory idle, at
// its peak during the attack and after, how long each request took to be answered, and the edge's CPU time per
// request. Linux only for the memory and CPU figures (/proc).
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type BombRequest, type BombRun, gzipBomb, type LatencyFigures, runBombs } from "../test-support/gzip-bombs.ts";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, loggedPort, startProcess } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    parallel: { type: "string", default: process.env.BENCH_PARALLEL ?? "8" },
    attack: { type: "string", default: process.env.BENCH_ATTACK_SECONDS ?? "3" },
    mebibytes: { type: "string", default: process.env.BENCH_BOMB_MEBIBYTES ?? "1000" },
  },
});
const KEY = "bench-write-key";

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
const mb = (n: number) => (Number.isFinite(n) ? (n / 2 ** 20).toFixed(0) : "n/a");
const latency = ({ p50, p99, max }: LatencyFigures) => `${ms(p50)} / ${ms(p99)} / ${ms(max)}`;

async function measure(request: BombRequest): Promise<BombRun> {
  const prefix = uniqueName("bench-bombs");
  const redis = await createTestRedis(prefix);
  const database = await createTestDb(prefix);
  const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
    PORT: "0",
    REDIS_URL,
    MONGO_URL: database.url,
    REDIS_PREFIX: prefix,
    WRITE_KEYS: KEY,
    // Every request must reach the body reader, not the rate limiter.
    RATE_LIMIT_PER_SECOND: "100000000",
    LOG_LEVEL: "info",
  });
  try {
    const port = await loggedPort(edge, "edge listening", 60_000);
    return await runBombs({
      base: `http://127.0.0.1:${port}`,
      pid: edge.child.pid,
      request,
      parallel: Number(args.parallel),
      attackMs: Number(args.attack) * 1000,
    });
  } finally {
    await edge.stop("SIGTERM");
    await redis.cleanup();
    await database.drop();
  }
}

async function main() {
  const bomb = await gzipBomb(Number(args.mebibytes));
  console.log(
    `gzip bomb benchmark: ${args.parallel} senders for ${args.attack} s each run, bombs of ` +
      `${(bomb.byteLength / 2 ** 20).toFixed(2)} MiB inflating to ${args.mebibytes} MiB; ${cpus().length} cores, ` +
      `load average ${loadavg()[0]?.toFixed(2)}`,
  );
  const runs: [string, BombRequest][] = [
    ["gzip bomb (413)", { body: bomb, writeKey: KEY }],
    ["unread 1 MB body (401)", { body: bomb, writeKey: "not-a-write-key" }],
    ["plain 1 MB body (400)", { body: Buffer.alloc(1_000_000, 0x20), gzip: false, writeKey: KEY }],
  ];
  const rows: string[] = [];
  for (const [name, request] of runs) {
    const run = await measure(request);
    const row = [
      name,
      String(run.requests.sent),
      JSON.stringify(run.requests.statuses),
      latency(run.idle),
      latency(run.underAttack),
      `${mb(run.rss.idle)} → ${mb(run.rss.peak)} (+${mb(run.rss.peak - run.rss.idle)})`,
      `${ms(run.requests.answeredIn.p50)} / ${ms(run.requests.answeredIn.p99)}`,
      ms(run.edgeCpuMillisPerRequest),
    ];
    rows.push(`| ${row.join(" | ")} |`);
    console.log(`  ${row.join("  ")}`);
  }
  console.log(
    [
      "",
      "| run | requests | statuses | /healthz idle p50 / p99 / max ms | /healthz under attack p50 / p99 / max ms | edge RSS idle → peak MB | answered in p50 / p99 ms | edge CPU ms/request |",
      "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
}

await main();
