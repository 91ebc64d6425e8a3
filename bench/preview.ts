// Preview benchmark: how long a preview of a draft takes over every scored event, and the peak memory of the process
// running it, beside a raw read of the `events` collection (one cursor pass with metadata, nothing else: the floor of
// any preview that reads the stored events) and beside the preview of a draft that reads metadata (which must stream
// the stored events), in the same run, alternating.
//
//   npm run bench:preview                                   # 100k events over 10k leads, two rounds
//   npm run bench:preview -- --events 1000000 --leads 100000 --kinds preview
//
// Events are stored as the worker stores them (candidates under the default rules, a small metadata object), spread
// uniformly over the leads and over a month, in a database of their own dropped afterwards; the live state (hashes,
// indexes, history pages) is laid out from the same events as a rebuild writes it, under a key prefix of its own
// deleted afterwards. With `--kinds preview` alone the `events` collection is not written at all: that preview
// never reads it. The draft doubles demo_request's points (`stored`: and asks that `metadata.campaign` start with
// "c", which every event's does, so the numbers are the same). Each measured run is a child process of its own
// (`--child raw|preview|stored`), so its peak RSS (`maxRSS`) and CPU time are the run's alone.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  COLLECTIONS,
  compareEvents,
  DEFAULT_RULES,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type EventDocument,
  keyOf,
  type ScorableEvent,
  toScorable,
} from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { runPreview, writeRebuiltLeads } from "@leadscore/worker";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { NODE_TS } from "../test-support/processes.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    leads: { type: "string", default: "10000" },
    rounds: { type: "string", default: "2" },
    seed: { type: "string", default: "7" },
    kinds: { type: "string", default: "raw,stored,preview" },
    child: { type: "string" },
    mongo: { type: "string" },
    prefix: { type: "string" },
  },
});

type Kind = "raw" | "preview" | "stored";
const KINDS: readonly Kind[] = ["raw", "stored", "preview"];

interface RunFigures {
  kind: Kind;
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

interface SeedOptions {
  events: number;
  leads: number;
  seed: number;
  storeEvents: boolean;
}

/** The events, in id order, each as stored: the same for the same options every time it is called. */
function* generate(options: SeedOptions): Generator<EventDocument> {
  const random = createRandom(options.seed);
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < options.events; i++) {
    const type = TYPES[Math.floor(random() * TYPES.length)] as string;
    const timestamp = t0 + Math.floor(random() * MONTH_MS);
    const id = `e${i}`;
    const points = POINTS.get(type) ?? 0;
    yield {
      _id: id,
      lead_id: `lead-${Math.floor(random() * options.leads)}`,
      event_type: type,
      timestamp: new Date(timestamp),
      received_at: new Date(timestamp),
      metadata: { path: `/p/${i % 50}`, campaign: `c${i % 7}` },
      points,
      rule_id: type,
      sort_key: keyOf({ timestamp, event_id: id }),
      candidates: [{ rule_id: type, points }],
      rules_version: 1,
    };
  }
}

/** Events the seed holds at once to lay out the live state: past it, the leads are laid out in ranges. */
const SEED_HELD = 200_000;

/**
 * Stores the events (unless `storeEvents` is false), in id order, then lays out the live state they fold to, a range
 * of lead numbers at a time (the events generated again for each), so the seed holds at most about SEED_HELD events
 * whatever the size.
 */
async function seed(url: string, dbName: string, prefix: string, options: SeedOptions) {
  const client = new MongoClient(url);
  await client.connect();
  const db = client.db(dbName);
  const collection = db.collection<EventDocument>(COLLECTIONS.events);
  const started = performance.now();
  const CHUNK = 10_000;
  if (options.storeEvents) {
    let docs: EventDocument[] = [];
    for (const doc of generate(options)) {
      docs.push(doc);
      if (docs.length >= CHUNK) {
        await collection.insertMany(docs, { ordered: false });
        docs = [];
      }
    }
    if (docs.length > 0) await collection.insertMany(docs, { ordered: false });
  }
  const redis = new Redis(REDIS_URL);
  const rebuild = {
    db,
    redis,
    keys: liveKeys(prefix),
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
    log: silentLogger,
  };
  const at = Date.now();
  const ranges = Math.max(1, Math.ceil(options.events / SEED_HELD));
  const perRange = Math.ceil(options.leads / ranges);
  for (let low = 0; low < options.leads; low += perRange) {
    const byLead = new Map<string, ScorableEvent[]>();
    for (const doc of generate(options)) {
      const n = Number(doc.lead_id.slice("lead-".length));
      if (n < low || n >= low + perRange) continue;
      const list = byLead.get(doc.lead_id);
      if (list === undefined) byLead.set(doc.lead_id, [toScorable(doc)]);
      else list.push(toScorable(doc));
    }
    const leads = [...byLead].map(([id, events]) => ({ id, events: events.sort(compareEvents) }));
    byLead.clear();
    for (let from = 0; from < leads.length; from += 1_000) {
      await writeRebuiltLeads(rebuild, leads.slice(from, from + 1_000), at);
    }
  }
  redis.disconnect();
  await client.close();
  return performance.now() - started;
}

/** One measured run, in this (child) process. */
async function child(kind: Kind, url: string, prefix: string): Promise<RunFigures> {
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
    const where = { field: "metadata.campaign", op: "starts_with" as const, value: "c" };
    const rules = DEFAULT_RULES.map((rule) =>
      rule.event_type === "demo_request"
        ? { ...rule, points: rule.points * 2, ...(kind === "stored" && { where }) }
        : { ...rule },
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

function runChild(kind: Kind, url: string, prefix: string): Promise<RunFigures> {
  return new Promise((resolve, reject) => {
    const [node, ...flags] = NODE_TS;
    const proc = spawn(node, [...flags, "bench/preview.ts", "--child", kind, "--mongo", url, "--prefix", prefix], {
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
  const kinds = (args.kinds ?? "").split(",").filter((kind): kind is Kind => KINDS.includes(kind as Kind));
  if (args.child !== undefined) {
    if (!KINDS.includes(args.child as Kind)) throw new Error(`--child must be one of ${KINDS.join(", ")}`);
    console.log(JSON.stringify(await child(args.child as Kind, args.mongo as string, args.prefix as string)));
    return;
  }
  const events = Number(args.events);
  const leads = Number(args.leads);
  const testDb = await createTestDb(uniqueName("bench-preview"));
  const prefix = uniqueName("bench-preview");
  const testRedis = await createTestRedis(prefix);
  try {
    const storeEvents = kinds.some((kind) => kind !== "preview");
    const seedMs = await seed(testDb.url, testDb.db.databaseName, prefix, {
      events,
      leads,
      seed: Number(args.seed),
      storeEvents,
    });
    console.log(
      `seeded ${events} events over ${leads} leads${storeEvents ? "" : " (live state only)"} in ` +
        `${(seedMs / 1000).toFixed(1)} s; load average ${loadavg()
          .map((load) => load.toFixed(1))
          .join(" ")}`,
    );
    const runs: RunFigures[] = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const kind of kinds) {
        const run = await runChild(kind, testDb.url, prefix);
        runs.push(run);
        console.log(
          `${kind.padEnd(7)} ${(run.ms / 1000).toFixed(1).padStart(6)} s  ` +
            `${Math.round(run.events / (run.ms / 1000))} events/s  CPU ${(run.cpuMs / 1000).toFixed(1)} s ` +
            `(${((run.cpuMs * 1000) / run.events).toFixed(1)} µs/event)  peak RSS ${run.maxRssMb.toFixed(0)} MB` +
            (run.kind === "raw" ? "" : `  leads ${run.leads}, changed ${run.changed}`) +
            `  load ${loadavg()[0]?.toFixed(1)}`,
        );
      }
    }
    const of = (kind: string) => runs.filter((run) => run.kind === kind);
    const mean = (list: RunFigures[], key: "ms" | "cpuMs") =>
      list.reduce((sum, run) => sum + run[key], 0) / list.length;
    for (const other of ["raw", "stored"] as const) {
      if (of("preview").length === 0 || of(other).length === 0) continue;
      console.log(
        `preview / ${other}: wall ${(mean(of("preview"), "ms") / mean(of(other), "ms")).toFixed(3)}×, ` +
          `CPU ${(mean(of("preview"), "cpuMs") / mean(of(other), "cpuMs")).toFixed(3)}×`,
      );
    }
  } finally {
    await testRedis.cleanup();
    await testDb.drop();
  }
}

await main();
