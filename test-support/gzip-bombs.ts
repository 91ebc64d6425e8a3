// Gzip bombs against a running edge, with what they cost it: `/healthz` latency beside them and the edge's
// resident memory. Shared by the bomb test (generous bounds) and `npm run bench:bombs` (the figures).
import { once } from "node:events";
import { Agent, request } from "node:http";
import { constants, createGzip } from "node:zlib";
import { quantile } from "@leadscore/runtime";
import { histogramAtMost, histogramOf, parsePrometheus, sumOf } from "@leadscore/runtime/prometheus";
import { cpuSeconds, residentBytes } from "./processes.ts";

/**
 * `{"events":[` followed by `mebibytes` MiB of spaces, gzip-compressed as tightly as deflate allows (~1030:1): a
 * 1 MB body that inflates to 1 GB by default, byte for byte the issue's `zlib.compressobj(9, 8, 31)` output.
 * Run-length strategy: the same stream as level 9 for a run of one byte, five times faster to produce.
 */
export async function gzipBomb(mebibytes = 1000): Promise<Buffer> {
  const gzip = createGzip({ level: 9, strategy: constants.Z_RLE });
  const chunks: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => chunks.push(chunk));
  gzip.write('{"events":[');
  const spaces = Buffer.alloc(2 ** 20, 0x20);
  for (let i = 0; i < mebibytes; i++) {
    if (!gzip.write(spaces)) await once(gzip, "drain");
  }
  gzip.end();
  await once(gzip, "end");
  return Buffer.concat(chunks);
}

/** What the edge's gzip bodies cost in inflating so far, from its `/metrics` text. */
export interface InflatedReading {
  /** Gzip bodies read, accepted or refused. */
  bodies: number;
  /** Bytes they inflated to, in all. */
  bytes: number;
  /** Bodies that inflated to at most 32 KB. */
  within32K: number;
}

export function inflatedReading(metricsText: string): InflatedReading {
  const samples = parsePrometheus(metricsText);
  const histogram = histogramOf(samples, "leadscore_gzip_inflated_bytes");
  return {
    bodies: histogram.count,
    bytes: sumOf(samples, "leadscore_gzip_inflated_bytes_sum") ?? 0,
    within32K: histogramAtMost(histogram, 32_768),
  };
}

/** What was inflated between two readings. */
export const inflatedSince = (after: InflatedReading, before: InflatedReading): InflatedReading => ({
  bodies: after.bodies - before.bodies,
  bytes: after.bytes - before.bytes,
  within32K: after.within32K - before.within32K,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface LatencyFigures {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

function latencyFigures(millis: number[]): LatencyFigures {
  const sorted = [...millis].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** One `GET /healthz` on a kept-alive connection, like a load balancer's probe; its latency in ms. */
function probe(base: URL, agent: Agent): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(new URL("/healthz", base), { agent }, (res) => {
      res.resume();
      res.once("end", () => resolve(performance.now() - started));
    });
    req.once("error", reject);
    req.end();
  });
}

/** Probes `/healthz` back to back (a few ms apart) until `stop` resolves; the latencies in ms. */
async function probeUntil(base: URL, stop: Promise<unknown>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const latencies: number[] = [];
  try {
    while (!stopped) {
      latencies.push(await probe(base, agent));
      await sleep(5);
    }
  } finally {
    agent.destroy();
  }
  return latencies;
}

export interface BombOutcome {
  /** The response status, or 0 when the connection failed before one arrived. */
  status: number;
  /** From the first byte sent to the response's status line, ms. */
  millis: number;
}

/** What each sender posts to `/api/batch`. */
export interface BombRequest {
  body: Buffer;
  /** Sent as `Content-Encoding: gzip` unless false (for a reference run with a plain body). */
  gzip?: boolean;
  writeKey: string;
}

/**
 * Posts one body to `/api/batch`. The edge may answer (and close) before the whole body is sent, so a write
 * error after the response is part of the expected outcome, not a failure.
 */
function postBomb(base: URL, { body, gzip = true, writeKey }: BombRequest): Promise<BombOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (status: number) => {
      if (settled) return;
      settled = true;
      resolve({ status, millis: performance.now() - started });
    };
    const req = request(new URL("/api/batch", base), {
      method: "POST",
      agent: false,
      headers: {
        "content-type": "application/json",
        ...(gzip ? { "content-encoding": "gzip" } : {}),
        "content-length": String(body.byteLength),
        "x-write-key": writeKey,
      },
    });
    req.once("response", (res) => {
      settle(res.statusCode ?? 0);
      res.resume();
      res.once("end", () => req.destroy());
    });
    req.on("error", () => settle(0));
    req.end(body);
  });
}

export interface BombRun {
  idle: LatencyFigures;
  underAttack: LatencyFigures;
  /** The edge's resident memory, bytes: before the bombs, the highest seen while they ran, and after. */
  rss: { idle: number; peak: number; after: number };
  /** Requests sent, their statuses, and how long each took to be answered (ms). */
  requests: { sent: number; statuses: Record<number, number>; answeredIn: LatencyFigures };
  /** CPU time the edge spent per request while they ran, ms (NaN off Linux). */
  edgeCpuMillisPerRequest: number;
}

export interface BombOptions {
  /** The edge's base URL. */
  base: string;
  /** The edge's process id, for its resident memory. */
  pid: number | undefined;
  request: BombRequest;
  /** Bombs in flight at once. */
  parallel?: number;
  /** How long each sender keeps sending bombs back to back (at least one each). */
  attackMs?: number;
  /** How long `/healthz` is probed before the attack, for the idle baseline. */
  idleMs?: number;
}

/** Measures `/healthz` idle, then while `parallel` senders post bombs back to back; and the edge's memory. */
export async function runBombs(options: BombOptions): Promise<BombRun> {
  const base = new URL(options.base);
  const parallel = options.parallel ?? 8;
  const attackMs = options.attackMs ?? 3000;
  const idle = await probeUntil(base, sleep(options.idleMs ?? 2000));
  const idleRss = residentBytes(options.pid);

  const cpuBefore = cpuSeconds(options.pid);
  let peak = idleRss;
  const memory = setInterval(() => {
    peak = Math.max(peak, residentBytes(options.pid));
  }, 10);
  const outcomes: BombOutcome[] = [];
  const deadline = performance.now() + attackMs;
  const attack = Promise.all(
    Array.from({ length: parallel }, async () => {
      do outcomes.push(await postBomb(base, options.request));
      while (performance.now() < deadline);
    }),
  );
  const underAttack = await probeUntil(base, attack);
  clearInterval(memory);
  const cpu = cpuSeconds(options.pid) - cpuBefore;
  peak = Math.max(peak, residentBytes(options.pid));
  await sleep(500);

  const statuses: Record<number, number> = {};
  for (const { status } of outcomes) statuses[status] = (statuses[status] ?? 0) + 1;
  return {
    idle: latencyFigures(idle),
    underAttack: latencyFigures(underAttack),
    rss: { idle: idleRss, peak, after: residentBytes(options.pid) },
    requests: { sent: outcomes.length, statuses, answeredIn: latencyFigures(outcomes.map(({ millis }) => millis)) },
    edgeCpuMillisPerRequest: (cpu * 1000) / Math.max(outcomes.length, 1),
  };
}
