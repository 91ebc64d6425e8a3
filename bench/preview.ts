// Preview benchmark: how long a preview of a draft takes over every stored event, and the peak memory of the process
// running it, beside a raw read of the same collection (one cursor pass with metadata, nothing else: the store's
// floor, since a preview reads every event once) in the same run, alternating.
//
//   npm run bench:preview                                   # 100k events over 10k leads, two rounds
//   npm run bench:preview -- --events 1000000 --leads 100000
//
// Events are stored as the worker stores them (candidates under the default rules, a small metadata object), spread
// uniformly over the leads and over a month, in a database of their own dropped afterwards. The draft doubles
// demo_request's points. Each measured run is a child process of its own (`--child preview|raw`), so its peak RSS
// (`maxRSS`) and CPU time are the run's alone.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import {
  COLLECTIONS,
  DEFAULT_RULES,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type EventDocument,
  keyOf,
} from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { runPreview } from "@leadscore/worker";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { createTestDb, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { NODE_TS } from "../test-support/processes.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    leads: { type: "string", default: "10000" },
    rounds: { type: "string", default: "2" },
    seed: { type: "string", default: "7" },
    child: { type: "string" },
    mongo: { type: "string" },
  },
});

interface RunFigures {
  kind: "preview" | "raw";
  ms: number;
  cpuMs: number;
  maxRssMb: number;
  events: number;
  leads?: number;
  changed?: number;
}

const TYPES = DEFAULT_RULES.map((rule) => rule.event_type);
const POINTS = new Map(DEFAULT_RULES.map((rule) => [rule.event_type, rule.points]));
const MONTH_MS = 30 * 86_400_000;

async function seed(url: string, dbName: string, events: number, leads: number, seedValue: number) {
  const client = new MongoClient(url);
  await client.connect();
  const collection = client.db(dbName).collection<EventDocument>(COLLECTIONS.events);
  const random = createRandom(seedValue);
  const t0 = Date.UTC(2026, 0, 1);
  const started = performance.now();
  const CHUNK = 10_000;
  for (let from = 0; from < events; from += CHUNK) {
    const docs: EventDocument[] = [];
    for (let i = from; i < Math.min(events, from + CHUNK); i++) {
      const type = TYPES[Math.floor(random() * TYPES.length)] as string;
      const timestamp = t0 + Math.floor(random() * MONTH_MS);
      const id = `e${i}`;
      const points = POINTS.get(type) ?? 0;
      docs.push({
        _id: id,
        lead_id: `lead-${Math.floor(random() * leads)}`,
        event_type: type,
        timestamp: new Date(timestamp),
        received_at: new Date(timestamp),
        metadata: { path: `/p/${i % 50}`, campaign: `c${i % 7}` },
        points,
        rule_id: type,
        sort_key: keyOf({ timestamp, event_id: id }),
        candidates: [{ rule_id: type, points }],
        rules_version: 1,
      });
    }
    await collection.insertMany(docs, { ordered: false });
  }
  await client.close();
  return performance.now() - started;
}

/** One measured run, in this (child) process. */
async function child(kind: "preview" | "raw", url: string): Promise<RunFigures> {
  const client = new MongoClient(url);
  await client.connect();
  const db = client.db();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let figures: Omit<RunFigures, "ms" | "cpuMs" | "maxRssMb">;
  if (kind === "raw") {
    let events = 0;
    for await (const _doc of db.collection(COLLECTIONS.events).find({}, { batchSize: 10_000 })) events += 1;
    figures = { kind, events };
  } else {
    const redis = new Redis(REDIS_URL);
    const prefix = uniqueName("bench-preview");
    const rules = DEFAULT_RULES.map((rule) =>
      rule.event_type === "demo_request" ? { ...rule, points: rule.points * 2 } : { ...rule },
    );
    const result = await runPreview(
      {
        db,
        redis,
        prefix,
        keys: liveKeys(prefix),
        cap: DEFAULT_SCORE_CAP,
        thresholds: DEFAULT_STAGE_THRESHOLDS,
        log: silentLogger,
      },
      { rules, groups: [] },
      new AbortController().signal,
      async () => false,
    );
    redis.disconnect();
    figures = { kind, events: result.events, leads: result.leads, changed: result.changed };
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await client.close();
  return {
    ...figures,
    ms,
    cpuMs: (used.user + used.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
}

function runChild(kind: "preview" | "raw", url: string): Promise<RunFigures> {
  return new Promise((resolve, reject) => {
    const [node, ...flags] = NODE_TS;
    const proc = spawn(node, [...flags, "bench/preview.ts", "--child", kind, "--mongo", url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    proc.on("error", reject);
    proc.on("exit", (code) => {
      if (code !== 0) reject(new Error(`${kind} run exited with ${code}`));
      else resolve(JSON.parse(out.trim().split("\n").at(-1) as string) as RunFigures);
    });
  });
}

async function main() {
  if (args.child === "preview" || args.child === "raw") {
    console.log(JSON.stringify(await child(args.child, args.mongo as string)));
    return;
  }
  const events = Number(args.events);
  const leads = Number(args.leads);
  const testDb = await createTestDb(uniqueName("bench-preview"));
  try {
    const seedMs = await seed(testDb.url, testDb.db.databaseName, events, leads, Number(args.seed));
    console.log(`seeded ${events} events over ${leads} leads in ${(seedMs / 1000).toFixed(1)} s`);
    const runs: RunFigures[] = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const kind of ["raw", "preview"] as const) {
        const run = await runChild(kind, testDb.url);
        runs.push(run);
        console.log(
          `${kind.padEnd(7)} ${(run.ms / 1000).toFixed(1).padStart(6)} s  CPU ${(run.cpuMs / 1000).toFixed(1)} s ` +
            `(${((run.cpuMs * 1000) / run.events).toFixed(1)} µs/event)  peak RSS ${run.maxRssMb.toFixed(0)} MB` +
            (run.kind === "preview" ? `  leads ${run.leads}, changed ${run.changed}` : ""),
        );
      }
    }
    const of = (kind: string) => runs.filter((run) => run.kind === kind);
    const mean = (list: RunFigures[], key: "ms" | "cpuMs") =>
      list.reduce((sum, run) => sum + run[key], 0) / list.length;
    console.log(
      `preview / raw read: wall ${(mean(of("preview"), "ms") / mean(of("raw"), "ms")).toFixed(2)}×, ` +
        `CPU ${(mean(of("preview"), "cpuMs") / mean(of("raw"), "cpuMs")).toFixed(2)}×`,
    );
  } finally {
    await testDb.drop();
  }
}

await main();
