// Rebuild benchmark: the peak resident memory and the time of a full rebuild of the live state, at two sizes, so a
// peak that does not grow with the number of events shows. Each rebuild runs in a process of its own (its peak RSS
// is the process's `maxRSS`), beside the same rebuild from another checkout (`--base <path>`, e.g. an export of the
// commit before), alternating, on the same stored events.
//
//   npm run bench:rebuild                                   # 50k and 100k events over 10k leads
//   npm run bench:rebuild -- --sizes 100000,1000000 --leads 100000
//   npm run bench:rebuild -- --base /tmp/leadscore-base     # and that checkout's rebuild beside it
//   npm run bench:rebuild -- --flags worker                 # each rebuild also under the worker's Node flags
//   npm run bench:rebuild -- --flags worker-child           # and as the worker runs its own: in a child process
//   npm run bench:rebuild -- --heaviest 0.1                 # one lead holds a tenth of the events
//   npm run bench:rebuild -- --heap 256                     # every rebuild under --max-old-space-size=256
//
// Events are spread evenly over the leads (but the heaviest's share, `--heaviest`, which all go to lead-0), one rule each (v1 documents: points and rule id), stored straight into
// `events`; each size uses its own database and key prefix, dropped afterwards.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import {
  COLLECTIONS,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type EventDocument,
  keyOf,
} from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { Redis } from "ioredis";
import {
  createTestDb,
  createTestRedis,
  MONGO_URL,
  REDIS_URL,
  uniqueMongoUrl,
  uniqueName,
} from "../test-support/index.ts";
import { pageCounts, pageCountsLine } from "../test-support/page-counts.ts";
import { NODE_TS, ROOT } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "50000,100000" },
    leads: { type: "string", default: "10000" },
    base: { type: "string" },
    rounds: { type: "string", default: "2" },
    // "worker": each checkout's rebuild runs twice, as the command does and with the worker's Node flags (the
    // worker's own rebuild runs in its process, under them).
    flags: { type: "string" },
    // The share of the events that go to one lead (lead-0), as the heaviest lead of a Zipf spread holds; 0: none.
    heaviest: { type: "string", default: "0" },
    // A heap cap (MB, --max-old-space-size) for every rebuild: one whose live memory exceeds it fails, and says so.
    heap: { type: "string" },
    // Internal: the child runs the rebuild as the worker runs its own (rebuild-child.ts), under the worker's flags.
    mode: { type: "string" },
    // Internal: run one rebuild here (a child process) from this checkout, of this database and prefix.
    child: { type: "string" },
    db: { type: "string" },
    prefix: { type: "string" },
  },
});

const TYPES: [string, number][] = [
  ["page_view", 5],
  ["email_open", 10],
  ["form_submission", 20],
  ["purchase", 100],
];

interface ChildResult {
  ms: number;
  maxRssMb: number;
  cpuMs: number;
  leads: number;
  events: number;
  /** The switch to the new generation (absent from a version that deleted the live keys first). */
  switchMs?: number;
  /** With `--mode worker-child`: the peak RSS of the process the rebuild ran in (the bench child is the worker). */
  rebuildRssMb?: number;
}

/** In the child: one rebuild with the given checkout's code; prints its figures as JSON. */
async function child(checkout: string, dbName: string, prefix: string): Promise<void> {
  // That checkout's own rebuild, not this one's (whatever its other options, these are the ones every version took).
  const imported = (await import(resolve(checkout, "worker/src/rebuild.ts"))) as {
    rebuildLiveState(options: Record<string, unknown>): Promise<{ leads: number; events: number; switchMs?: number }>;
  };
  let rebuildRssMb: number | undefined;
  const rebuildLiveState =
    args.mode === "worker-child"
      ? await workerChildRebuild(checkout, dbName, prefix, (mb) => {
          rebuildRssMb = mb;
        })
      : imported.rebuildLiveState;
  const { MongoClient } = await import("mongodb");
  const mongo = new MongoClient(MONGO_URL);
  await mongo.connect();
  const redis = new Redis(REDIS_URL);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await rebuildLiveState({
    db: mongo.db(dbName),
    redis,
    keys: liveKeys(prefix),
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
    log: silentLogger,
  });
  const used = process.cpuUsage(cpu);
  const figures: ChildResult = {
    ms: Math.round(performance.now() - started),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    cpuMs: Math.round((used.user + used.system) / 1000),
    leads: result.leads,
    events: result.events,
    ...(result.switchMs === undefined ? {} : { switchMs: Math.round(result.switchMs * 10) / 10 }),
    ...(rebuildRssMb === undefined ? {} : { rebuildRssMb }),
  };
  console.log(JSON.stringify(figures));
  redis.disconnect();
  await mongo.close();
}

/** The worker's own rebuild (rebuild-child.ts): under the rebuild lock, in a child process; `peak` gets its peak RSS. */
async function workerChildRebuild(checkout: string, dbName: string, prefix: string, peak: (mb: number) => void) {
  const { rebuildInChild } = (await import(resolve(checkout, "worker/src/rebuild-child.ts"))) as {
    rebuildInChild(config: unknown, prefix: string): (options: Record<string, unknown>) => Promise<unknown>;
  };
  const { withRebuildLock } = (await import(resolve(checkout, "worker/src/rebuild.ts"))) as {
    withRebuildLock(redis: Redis, keys: unknown, task: (lock: unknown) => Promise<unknown>): Promise<unknown>;
  };
  const { parseConfig, WorkerConfigSchema } = await import("@leadscore/contracts");
  const config = parseConfig(WorkerConfigSchema, {
    REDIS_URL,
    MONGO_URL: uniqueMongoUrl(dbName),
    REDIS_PREFIX: prefix,
    NODE_ENV: "test",
  });
  const log = {
    ...silentLogger,
    info: (message: string, fields?: Record<string, unknown>) => {
      if (message === "rebuild process ended") peak(Number(fields?.maxRssMb));
    },
  };
  return (options: Record<string, unknown>) =>
    withRebuildLock(options.redis as Redis, options.keys, (lock) =>
      rebuildInChild(config, prefix)({ ...options, log, lock }),
    ) as Promise<{ leads: number; events: number; switchMs?: number }>;
}

async function seed(dbName: string, events: number, leads: number, heaviest: number): Promise<void> {
  const { MongoClient } = await import("mongodb");
  const mongo = new MongoClient(MONGO_URL);
  await mongo.connect();
  const collection = mongo.db(dbName).collection<EventDocument>(COLLECTIONS.events);
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  for (let from = 0; from < events; from += 10_000) {
    const docs: EventDocument[] = [];
    for (let i = from; i < Math.min(events, from + 10_000); i += 1) {
      const [type, points] = TYPES[i % TYPES.length] as [string, number];
      // Every 1/heaviest-th event goes to lead-0 (a spread in step, not at random: the same at every size).
      const heavy = heaviest > 0 && Math.floor((i + 1) * heaviest) > Math.floor(i * heaviest);
      const lead = heavy ? 0 : (i - Math.floor((i + 1) * heaviest)) % leads;
      const event = { event_id: `e${i}`, lead_id: `lead-${lead}`, timestamp: t0 + i * 1_000 };
      docs.push({
        _id: event.event_id,
        lead_id: event.lead_id,
        event_type: type,
        timestamp: new Date(event.timestamp),
        received_at: new Date(event.timestamp),
        metadata: {},
        points,
        rule_id: type,
        sort_key: keyOf(event),
      });
    }
    await collection.insertMany(docs, { ordered: false });
  }
  await mongo.close();
}

const run = promisify(execFile);

/**
 * Reads the leaderboard's size every 250 ms while a rebuild runs: a read that finds no lead is one the previous
 * generation did not answer (the first rebuild of a size has none before it).
 */
function probeReads(redis: Redis, prefix: string) {
  const probe = { samples: 0, answered: 0, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    void redis.zcard(liveKeys(prefix).byScore).then((count) => {
      probe.samples += 1;
      if (count > 0) probe.answered += 1;
    });
  }, 250);
  return probe;
}

async function rebuildIn(
  checkout: string,
  dbName: string,
  prefix: string,
  nodeFlags: readonly string[],
  mode?: string,
): Promise<ChildResult> {
  const [node, ...flags] = NODE_TS;
  const { stdout } = await run(
    node as string,
    [
      ...nodeFlags,
      ...flags,
      // The checkout's own copy of this file, so its rebuild and the driver it is handed share one node_modules (a
      // driver's error from another copy fails the rebuild's `instanceof` checks: a page already stored then throws).
      resolve(checkout, "bench/rebuild.ts"),
      "--child",
      checkout,
      "--db",
      dbName,
      "--prefix",
      prefix,
      ...(mode ? ["--mode", mode] : []),
    ],
    { cwd: checkout, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) as string) as ChildResult;
}

async function main(): Promise<void> {
  if (args.child) return child(args.child, args.db as string, args.prefix as string);
  const leads = Number(args.leads);
  const checkouts: [string, string, readonly string[], string?][] = [["this", ROOT, []]];
  if (args.base) checkouts.push(["base", resolve(args.base), []]);
  if (args.flags === "worker" || args.flags === "worker-child") {
    for (const [label, checkout] of [...checkouts]) {
      // A checkout with rebuild-child.ts runs the worker's rebuild in a child process: measured that way too.
      const childMode = args.flags === "worker-child" && existsSync(resolve(checkout, "worker/src/rebuild-child.ts"));
      checkouts.push([
        `${label} ${childMode ? "worker, rebuild in a child process" : WORKER_NODE_FLAGS.join(" ")}`,
        checkout,
        WORKER_NODE_FLAGS,
        childMode ? "worker-child" : undefined,
      ]);
    }
  }
  const heaviest = Number(args.heaviest);
  console.log(
    `rebuild: ${leads} leads${heaviest > 0 ? ` (lead-0 holding ${heaviest * 100}% of the events)` : ""}; ` +
      `sizes ${args.sizes}; ${args.rounds} rounds, alternating`,
  );
  for (const size of (args.sizes as string).split(",").map(Number)) {
    const name = uniqueName("bench-rebuild");
    const testDb = await createTestDb(name);
    const prefix = uniqueName("br");
    const testRedis = await createTestRedis(prefix);
    try {
      await seed(testDb.db.databaseName, size, leads, heaviest);
      for (let round = 0; round < Number(args.rounds); round += 1) {
        for (const [label, checkout, nodeFlags, mode] of round % 2 === 0 ? checkouts : [...checkouts].reverse()) {
          const reads = probeReads(testRedis.redis, prefix);
          const flags = args.heap ? [...nodeFlags, `--max-old-space-size=${args.heap}`] : nodeFlags;
          const r = await rebuildIn(checkout, testDb.db.databaseName, prefix, flags, mode)
            .catch((error: Error) => {
              const reason = /heap out of memory|Allocation failed[^\n]*/.exec(error.message)?.[0] ?? error.message;
              console.log(`  ${size} events, ${label}: failed (${reason.slice(0, 200)})`);
              return null;
            })
            .finally(reads.stop);
          if (r === null) continue;
          console.log(
            `  ${size} events, ${label}: ${(r.ms / 1000).toFixed(1)} s, CPU ${(r.cpuMs / 1000).toFixed(1)} s ` +
              `(${((r.cpuMs * 1000) / r.events).toFixed(0)} µs per event), peak RSS ${r.maxRssMb} MB ` +
              `${r.rebuildRssMb === undefined ? "" : `(the worker's; its rebuild process's ${r.rebuildRssMb} MB) `}` +
              `(${r.leads} leads, ${r.events} events); switch ${r.switchMs ?? "–"} ms; ` +
              `reads while it ran: ${reads.answered} of ${reads.samples} found leads`,
          );
          // The same events laid out again: a second round names the pages the first stored and writes none.
          console.log(`    history pages: ${pageCountsLine(await pageCounts(testRedis.redis, testDb.db, prefix))}`);
        }
      }
    } finally {
      await testRedis.cleanup();
      await testDb.drop();
    }
  }
}

await main();
process.exit(0);
