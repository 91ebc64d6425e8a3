// Read API benchmark: seeds leads into a fresh database, then times the leaderboard and filtered lists through the
// edge app in-process (`app.request()`, so HTTP parsing is not measured, only routing, validation, MongoDB and JSON).
//
//   npm run bench:api
//   npm run bench:api -- --leads 20000 --requests 200 --budget 20
//
// Options: --leads (100000), --requests per scenario (500), --budget seconds per scenario (30, half that for the
// baseline; a scenario stops at whichever comes first, so a slow server still finishes), --chunk (insertMany size,
// 1000).
// Beside each API scenario, the same query through the driver alone is the baseline the ratio is measured against.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  COLLECTIONS,
  EVENTS_QUEUE,
  LEADERBOARD_SORT,
  type LeadDocument,
  quantile,
  silentLogger,
  sortKey,
  stageFor,
} from "@leadscore/contracts";
import Queue from "bull";
import { Redis } from "ioredis";
import type { Filter, Sort } from "mongodb";
import { createApp } from "../edge/src/app.ts";
import { ensureIndexes } from "../edge/src/indexes.ts";
import { createTestDb, testEdgeConfig, uniqueName, withReadToken } from "../test-support/index.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    leads: { type: "string", default: "100000" },
    requests: { type: "string", default: "500" },
    budget: { type: "string", default: "30" },
    chunk: { type: "string", default: "1000" },
  },
});
const LEADS = Number(args.leads);
const REQUESTS = Number(args.requests);
const BUDGET_MS = Number(args.budget) * 1000;
const CHUNK = Number(args.chunk);
const COMPANIES = 500;
const BASE = Date.parse("2026-01-01T00:00:00.000Z");

const SURNAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Müller", "Rossi", "Dubois"];

function leadAt(index: number, random: () => number): LeadDocument {
  // Skewed towards low scores, as real funnels are; many ties at round numbers.
  const score = Math.min(1000, Math.floor(random() ** 2 * 200) * 5);
  const at = new Date(BASE + Math.floor(random() * 30 * 86_400_000));
  const surname = SURNAMES[index % SURNAMES.length] ?? "Doe";
  return {
    _id: `lead-${index.toString(36).padStart(4, "0")}`,
    name: `Pat ${surname} ${index}`,
    email: `pat${index}@company${index % COMPANIES}.example`,
    company: `Company ${index % COMPANIES}`,
    current_score: score,
    stage: stageFor(score),
    event_count: 1 + Math.floor(random() * 40),
    last_event_at: at,
    score_reached_at: at,
    last_sort_key: sortKey(at.getTime(), `e-${index}`),
    version: 1,
    created_at: new Date(BASE),
    updated_at: at,
  };
}

interface Row {
  scenario: string;
  samples: number;
  p50: number;
  p99: number;
  mean: number;
  baselineP50: number;
  ratio: number;
}

async function time(run: () => Promise<void>, budgetMs = BUDGET_MS): Promise<number[]> {
  for (let i = 0; i < 3; i++) await run();
  const samples: number[] = [];
  const deadline = performance.now() + budgetMs;
  while (samples.length < REQUESTS && performance.now() < deadline) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b);
}

async function main() {
  const config = testEdgeConfig({ NODE_ENV: "development" });
  const testDb = await createTestDb(uniqueName("bench-api"));
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true });
  const queue = new Queue(EVENTS_QUEUE, config.REDIS_URL, { prefix: config.REDIS_PREFIX });
  try {
    const leads = testDb.db.collection<LeadDocument>(COLLECTIONS.leads);
    const random = createRandom(42);
    console.log(`seeding ${LEADS} leads into ${testDb.db.databaseName} in chunks of ${CHUNK} …`);
    let started = performance.now();
    for (let offset = 0; offset < LEADS; offset += CHUNK) {
      const docs = Array.from({ length: Math.min(CHUNK, LEADS - offset) }, (_, i) => leadAt(offset + i, random));
      await leads.insertMany(docs, { ordered: false });
    }
    const seedMs = performance.now() - started;
    console.log(`seeded in ${(seedMs / 1000).toFixed(1)} s (${Math.round(LEADS / (seedMs / 1000))} leads/s)`);
    started = performance.now();
    await ensureIndexes(testDb.db, silentLogger);
    console.log(`indexes created in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const app = createApp({ config, redis, db: testDb.db, queue, log: silentLogger });
    const hot = await leads.findOne({ stage: "hot" });
    const scenarios: { name: string; path: string; filter: Filter<LeadDocument>; sort?: Sort; limit: number }[] = [
      { name: "leaderboard (top 10)", path: "/api/leads/leaderboard", filter: {}, sort: LEADERBOARD_SORT, limit: 10 },
      {
        name: "stage=hot&sort=-score&limit=50",
        path: "/api/leads?stage=hot&sort=-score&limit=50",
        filter: { stage: "hot" },
        sort: { current_score: -1, _id: 1 },
        limit: 51,
      },
      {
        name: "company=Company 7&limit=50",
        path: "/api/leads?company=Company%207&limit=50",
        filter: { company: "Company 7" },
        sort: { current_score: -1, _id: 1 },
        limit: 51,
      },
      {
        name: "sort=-updated_at&limit=50",
        path: "/api/leads?sort=-updated_at&limit=50",
        filter: {},
        sort: { updated_at: -1, _id: 1 },
        limit: 51,
      },
      {
        name: "q=garcia&limit=50",
        path: "/api/leads?q=garcia&limit=50",
        filter: { $or: [{ name: { $regex: "garcia", $options: "i" } }] },
        sort: { current_score: -1, _id: 1 },
        limit: 51,
      },
      {
        name: "GET /api/leads/:id",
        path: `/api/leads/${hot?._id}`,
        filter: { _id: hot?._id ?? "" },
        limit: 1,
      },
    ];

    const rows: Row[] = [];
    for (const scenario of scenarios) {
      const api = await time(async () => {
        const response = await app.request(scenario.path, withReadToken());
        if (response.status !== 200) throw new Error(`${scenario.path} answered ${response.status}`);
        await response.arrayBuffer();
      });
      const baseline = await time(async () => {
        const cursor = leads.find(scenario.filter).limit(scenario.limit);
        await (scenario.sort ? cursor.sort(scenario.sort) : cursor).toArray();
      }, BUDGET_MS / 2);
      const mean = api.reduce((sum, value) => sum + value, 0) / api.length;
      rows.push({
        scenario: scenario.name,
        samples: api.length,
        p50: quantile(api, 0.5),
        p99: quantile(api, 0.99),
        mean,
        baselineP50: quantile(baseline, 0.5),
        ratio: quantile(api, 0.5) / quantile(baseline, 0.5),
      });
      console.log(
        `  ${scenario.name}: p50 ${quantile(api, 0.5).toFixed(1)} ms, p99 ${quantile(api, 0.99).toFixed(1)} ms`,
      );
    }

    const countStarted = performance.now();
    await leads.countDocuments({ stage: "hot" });
    const countMs = performance.now() - countStarted;

    const server = (await testDb.db.admin().command({ buildInfo: 1 })) as { version: string; ferretdbVersion?: string };
    console.log(
      `\n${LEADS} leads on ${server.ferretdbVersion ? `FerretDB (MongoDB ${server.version} wire)` : `MongoDB ${server.version}`}` +
        `; in-process app.request(), sequential; baseline = the same find() through the driver alone`,
    );
    console.table(
      rows.map((row) => ({
        scenario: row.scenario,
        requests: row.samples,
        "p50 ms": Number(row.p50.toFixed(1)),
        "p99 ms": Number(row.p99.toFixed(1)),
        "mean ms": Number(row.mean.toFixed(1)),
        "driver p50 ms": Number(row.baselineP50.toFixed(1)),
        "api/driver": Number(row.ratio.toFixed(2)),
        "p99 < 50 ms": row.p99 < 50 ? "yes" : "no",
      })),
    );
    console.log(`one countDocuments({ stage: "hot" }) (X-Total-Count): ${countMs.toFixed(1)} ms`);
  } finally {
    await queue.close().catch(() => undefined);
    redis.disconnect();
    await testDb.drop();
    console.log("bench database dropped");
  }
}

await main();
