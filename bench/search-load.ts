// Search load benchmark: what expensive reads do to the hot paths. The edge runs under Deno (as in production) with
// leads seeded into Redis and MongoDB; two probes, one request at a time each, time `GET /healthz` and
// `POST /api/events` — on a quiet edge, and while 8 clients search `GET /api/leads?q=e` in a loop (a read token's
// worth of load: every lead's name or email matches, the broadest search there is). Beside it runs an edge whose
// expensive reads are unbounded (EXPENSIVE_READ_CONCURRENCY=1000), which is how the edge behaved before the bound;
// the two take turns, round after round, so a change in the machine's other load falls on both alike. Searchers
// ignore `Retry-After` unless told to, as a client that means harm would.
//
//   npm run bench:search-load
//   npm run bench:search-load -- --leads 1581 --rounds 4 --duration 5 --searchers 8 --limit 2 --honor-retry-after
//
// Options: --leads (2000), --rounds (4), --duration seconds per phase (5), --searchers (8), --limit (the edge's
// EXPENSIVE_READ_CONCURRENCY; unset: its default), --honor-retry-after (searchers wait as told after a 503),
// --no-unbounded (skip the comparison edge). No worker runs: events are queued, then removed with the prefix.
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { liveKeys } from "@leadscore/live";
import { quantile } from "@leadscore/runtime";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { createLiveSeeder, eventsOf, type LeadSeed } from "../test-support/live.ts";
import { BIN, cpuSeconds, DENO_EDGE_ARGS, loggedPort, startProcess } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    leads: { type: "string", default: "2000" },
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "4" },
    searchers: { type: "string", default: "8" },
    limit: { type: "string" },
    "honor-retry-after": { type: "boolean", default: false },
    "no-unbounded": { type: "boolean", default: false },
  },
});
const LEADS = Number(args.leads);
const PHASE_MS = Number(args.duration) * 1000;
const ROUNDS = Number(args.rounds);
const SEARCHERS = Number(args.searchers);
const HONOR_RETRY_AFTER = args["honor-retry-after"];
const WRITE_KEY = "bench-write-key";
const READ_TOKEN = "bench-read-token";
const SURNAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Rossi", "Dubois", "Jones"];
const BASE = Date.parse("2026-01-01T00:00:00.000Z");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Timings {
  healthz: number[];
  events: number[];
  failed: number;
}

interface Searches {
  ok: number;
  refused: number;
  other: number;
}

/** Two probes, each one request at a time, for `ms`: the latencies a well-behaved client sees. */
async function probe(base: string, ms: number, run: string): Promise<Timings> {
  const timings: Timings = { healthz: [], events: [], failed: 0 };
  const until = performance.now() + ms;
  let n = 0;
  const loop = async (send: () => Promise<Response>, into: number[], expected: number) => {
    while (performance.now() < until) {
      const started = performance.now();
      const response = await send();
      await response.arrayBuffer();
      into.push(performance.now() - started);
      if (response.status !== expected) timings.failed += 1;
    }
  };
  await Promise.all([
    loop(() => fetch(`${base}/healthz`), timings.healthz, 200),
    loop(
      () => {
        n += 1;
        return fetch(`${base}/api/events`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` },
          body: JSON.stringify({ event_id: `${run}-${n}`, lead_id: `lead-${n % LEADS}`, event_type: "page_view" }),
        });
      },
      timings.events,
      202,
    ),
  ]);
  return timings;
}

/** `SEARCHERS` clients searching in a loop until `stop` resolves. */
function search(base: string, stop: Promise<void>): Promise<Searches> {
  const counts: Searches = { ok: 0, refused: 0, other: 0 };
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const client = async () => {
    while (!stopped) {
      const response = await fetch(`${base}/api/leads?q=e`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
      await response.arrayBuffer();
      if (response.status === 200) counts.ok += 1;
      else if (response.status === 503) {
        counts.refused += 1;
        if (HONOR_RETRY_AFTER) await sleep(Number(response.headers.get("retry-after") ?? "1") * 1000);
      } else counts.other += 1;
    }
  };
  return Promise.all(Array.from({ length: SEARCHERS }, client)).then(() => counts);
}

function leads(): LeadSeed[] {
  return Array.from({ length: LEADS }, (_, i) => {
    const id = `lead-${i}`;
    const surname = SURNAMES[i % SURNAMES.length] as string;
    return {
      id,
      profile: {
        name: `Person ${i} ${surname}`,
        email: `p${i}@${surname.toLowerCase()}.example`,
        company: `Co ${i % 97}`,
      },
      events: eventsOf(id, [5, 10, 20].slice(0, 1 + (i % 3)), BASE),
    };
  });
}

interface Edge {
  label: string;
  base: string;
  prefix: string;
  quiet: Timings;
  loaded: Timings;
  searches: Searches;
  cpuQuiet: number;
  cpuLoaded: number;
  /** `MEMORY USAGE` of the search texts (the whole hash). */
  textBytes: number;
  cpu(): number;
  close(): Promise<void>;
}

async function startEdge(label: string, limit: string | undefined): Promise<Edge> {
  const prefix = uniqueName("bench-search");
  const testDb = await createTestDb(prefix);
  const testRedis = await createTestRedis(prefix);
  const started = performance.now();
  await createLiveSeeder({ redis: testRedis.redis, db: testDb.db, redisPrefix: prefix }).seed(leads());
  console.error(`${label}: seeded ${LEADS} leads in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const textBytes = Number(await testRedis.redis.memory("USAGE", liveKeys(prefix).searchTexts, "SAMPLES", 0));
  const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
    NODE_ENV: "test",
    PORT: "0",
    REDIS_URL,
    MONGO_URL: testDb.url,
    REDIS_PREFIX: prefix,
    WRITE_KEYS: WRITE_KEY,
    READ_TOKENS: READ_TOKEN,
    ADMIN_TOKEN: "bench-admin-token",
    LOG_LEVEL: "info",
    ...(limit === undefined ? {} : { EXPENSIVE_READ_CONCURRENCY: limit }),
  });
  const close = async () => {
    await edge.stop("SIGTERM");
    await testRedis.cleanup();
    await testDb.drop();
  };
  try {
    const base = `http://127.0.0.1:${await loggedPort(edge, "edge listening", 60_000)}`;
    // Warm up: JIT, connections, the first search.
    await probe(base, 1000, `${prefix}-warm`);
    await fetch(`${base}/api/leads?q=e`, { headers: { authorization: `Bearer ${READ_TOKEN}` } }).then((r) => r.text());
    const empty = (): Timings => ({ healthz: [], events: [], failed: 0 });
    return {
      label,
      base,
      prefix,
      quiet: empty(),
      loaded: empty(),
      searches: { ok: 0, refused: 0, other: 0 },
      cpuQuiet: 0,
      cpuLoaded: 0,
      textBytes,
      cpu: () => cpuSeconds(edge.child.pid),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

const add = (into: Timings, from: Timings) => {
  into.healthz.push(...from.healthz);
  into.events.push(...from.events);
  into.failed += from.failed;
};

/** One round on one edge: a quiet phase, then a phase with the searchers running. */
async function round(edge: Edge, n: number) {
  let before = edge.cpu();
  add(edge.quiet, await probe(edge.base, PHASE_MS, `${edge.prefix}-quiet-${n}`));
  edge.cpuQuiet += edge.cpu() - before;
  before = edge.cpu();
  let stop = () => {};
  const searching = search(
    edge.base,
    new Promise<void>((resolve) => {
      stop = resolve;
    }),
  );
  add(edge.loaded, await probe(edge.base, PHASE_MS, `${edge.prefix}-loaded-${n}`));
  stop();
  const searches = await searching;
  edge.cpuLoaded += edge.cpu() - before;
  edge.searches.ok += searches.ok;
  edge.searches.refused += searches.refused;
  edge.searches.other += searches.other;
}
const ms = (value: number) => Number(value.toFixed(1));
const sorted = (values: number[]) => Float64Array.from(values).sort();

function rows(result: Edge) {
  return (["healthz", "events"] as const).map((probeName) => {
    const quiet = sorted(result.quiet[probeName]);
    const loaded = sorted(result.loaded[probeName]);
    const [q50, q99, l50, l99] = [
      quantile(quiet, 0.5),
      quantile(quiet, 0.99),
      quantile(loaded, 0.5),
      quantile(loaded, 0.99),
    ];
    return {
      edge: result.label,
      route: probeName === "healthz" ? "GET /healthz" : "POST /api/events",
      "quiet p50 ms": ms(q50),
      "quiet p99 ms": ms(q99),
      "searching p50 ms": ms(l50),
      "searching p99 ms": ms(l99),
      "p50 ratio": Number((l50 / q50).toFixed(2)),
      "p99 ratio": Number((l99 / q99).toFixed(2)),
      "requests quiet/searching": `${quiet.length}/${loaded.length}`,
    };
  });
}

const results = [await startEdge(`bounded (limit ${args.limit ?? "default"})`, args.limit)];
if (!args["no-unbounded"]) results.push(await startEdge("unbounded", "1000"));
try {
  // Rounds alternate the edges (and their order), so a change in the machine's other load falls on both alike.
  for (let n = 0; n < ROUNDS; n++) {
    for (const edge of n % 2 === 0 ? results : [...results].reverse()) await round(edge, n);
  }
} finally {
  await Promise.all(results.map((edge) => edge.close()));
}

console.log(
  `\n${LEADS} leads, ${SEARCHERS} searchers (GET /api/leads?q=e${HONOR_RETRY_AFTER ? ", honouring Retry-After" : ""}), ` +
    `${ROUNDS} rounds of a ${PHASE_MS / 1000} s quiet and a ${PHASE_MS / 1000} s searching phase per edge; ${cpus().length} cores, load average ${loadavg()
      .map((value) => value.toFixed(1))
      .join(" ")}`,
);
console.table(results.flatMap(rows));
console.table(
  results.map((result) => ({
    edge: result.label,
    "searches 200": result.searches.ok,
    "searches 503": result.searches.refused,
    "searches other": result.searches.other,
    "probe failures": result.quiet.failed + result.loaded.failed,
    "edge CPU s quiet/searching": `${result.cpuQuiet.toFixed(1)}/${result.cpuLoaded.toFixed(1)}`,
    "search texts B/lead": Math.round(result.textBytes / LEADS),
  })),
);
