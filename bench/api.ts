// Read API benchmark: seeds the live state of many leads straight into Redis (pipelined HSET/ZADD of the same fields,
// index entries and search texts the worker and the profile writes commit, built with the live codec — not through
// the worker), their profiles and settled history pages into MongoDB, then times the read routes through the edge app in-process (`app.request()`,
// so HTTP parsing is not measured: routing, validation, Redis, MongoDB where a route reads it, and JSON).
//
//   npm run bench:api
//   npm run bench:api -- --leads 10000 --events 100000 --requests 200 --budget 10
//   npm run bench:api -- --redis-only     # the Redis-served routes alone (searches too): no profiles or pages
//   npm run bench:api -- --half-life 2592000   # score decay on (30 days): the score index keyed with decay
//   npm run bench:api -- --partitions 6  # the leads laid out over LEAD_PARTITIONS=6, every read merged over them
//
// Options: --leads (100000), --events (1000000, spread over the leads by Zipf's law, exponent 1), --requests per
// scenario (500), --budget seconds per scenario (15; a scenario stops at whichever comes first, so a slow read still
// finishes), --chunk (leads per seeding round trip, 1000), --half-life (seconds; none: no decay). With a half-life
// the score index holds `decayRankKey` of each lead's score and newest event time, and every read is answered at
// 31 days after the first events (when most leads have had their last event; the scores seeded are the fold's without
// decay: only the reads' cost is measured, not the decayed values).
// Beside each route, the same read through the live reader (the live searcher over every partition, for searches; the
// MongoDB driver, for older history) alone is the baseline its ratio is measured against.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { COLLECTIONS, type HistoryPageDocument, type LeadDocument, type ScorableEvent } from "@leadscore/contracts";
import { createApp, MAX_SEARCH_MATCHES } from "@leadscore/edge";
import {
  createPartitionedReader,
  createPartitionedSearcher,
  decayRankKey,
  encodeLeadHash,
  liveKeys,
  rankKey,
  searchText,
  stateFields,
} from "@leadscore/live";
import {
  createMissingIndexes,
  EVENTS_QUEUE,
  leadPartition,
  partitionPrefixes,
  quantile,
  silentLogger,
} from "@leadscore/runtime";
import Queue from "bull";
import { Redis } from "ioredis";
import { createTestDb, testEdgeConfig, uniqueName, withReadToken } from "../test-support/index.ts";
import { foldLiveState } from "../test-support/live.ts";
import { createRandom } from "./random.ts";

const { values: args } = parseArgs({
  options: {
    leads: { type: "string", default: "100000" },
    events: { type: "string", default: "1000000" },
    requests: { type: "string", default: "500" },
    budget: { type: "string", default: "15" },
    chunk: { type: "string", default: "1000" },
    "redis-only": { type: "boolean", default: false },
    "half-life": { type: "string", default: "" },
    partitions: { type: "string", default: "1" },
  },
});
const HALF_LIFE = args["half-life"] === "" ? null : Number(args["half-life"]);
const REDIS_ONLY = args["redis-only"];
const LEADS = Number(args.leads);
const EVENTS = Number(args.events);
const REQUESTS = Number(args.requests);
const BUDGET_MS = Number(args.budget) * 1000;
const CHUNK = Number(args.chunk);
const COMPANIES = 500;
const BASE = Date.parse("2026-01-01T00:00:00.000Z");
const DAY = 86_400_000;

const SURNAMES = ["Smith", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kim", "Müller", "Rossi", "Dubois"];
const RULES: [string, number][] = [
  ["page_view", 5],
  ["page_view", 5],
  ["email_open", 10],
  ["email_open", 10],
  ["form_submission", 20],
  ["demo_request", 50],
  ["purchase", 100],
  ["unsubscribe", -50],
];

const leadId = (index: number) => `lead-${index.toString(36).padStart(4, "0")}`;

/** Events per lead: each event's lead drawn by Zipf's law (rank r with weight 1 / (r + 1)), every lead at least one. */
function eventCounts(random: () => number): Uint32Array {
  const counts = new Uint32Array(LEADS).fill(1);
  const cdf = new Float64Array(LEADS);
  let total = 0;
  for (let r = 0; r < LEADS; r++) {
    total += 1 / (r + 1);
    cdf[r] = total;
  }
  for (let i = LEADS; i < EVENTS; i++) {
    const target = random() * total;
    let lo = 0;
    let hi = LEADS - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < target) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] = (counts[lo] as number) + 1;
  }
  return counts;
}

function eventsOf(index: number, count: number, random: () => number): ScorableEvent[] {
  const id = leadId(index);
  let at = BASE + Math.floor(random() * 30 * DAY);
  return Array.from({ length: count }, (_, i) => {
    const [type, points] = RULES[Math.floor(random() * RULES.length)] as [string, number];
    at += 1 + Math.floor(random() * 600_000);
    return {
      event_id: `${id}-${i}`,
      lead_id: id,
      event_type: type,
      timestamp: at,
      received_at: at,
      points,
      rule_id: type,
    };
  });
}

interface Scenario {
  name: string;
  /** A request path, or one per call (rotating through a sample). */
  path: string | (() => string);
  baseline: () => Promise<unknown>;
  baselineName: string;
  /** Reads MongoDB (skipped with --redis-only). */
  mongo?: boolean;
}

async function time(run: () => Promise<void>, budgetMs = BUDGET_MS): Promise<number[]> {
  // Warm up with up to 3 runs, fewer for a read that takes seconds (older history scanning FerretDB's pages).
  const warmupDeadline = performance.now() + Math.min(budgetMs / 3, 2_000);
  for (let i = 0; i < 3 && performance.now() < warmupDeadline; i++) await run();
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
  const config = testEdgeConfig({ NODE_ENV: "development", LEAD_PARTITIONS: args.partitions });
  const prefixes = partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS);
  const keysOf = (id: string) => liveKeys(prefixes[leadPartition(id, prefixes.length)] as string);
  const testDb = await createTestDb(uniqueName("bench-api"));
  const redis = new Redis(config.REDIS_URL);
  const partitionQueues = prefixes.map((prefix) => new Queue(EVENTS_QUEUE, config.REDIS_URL, { prefix }));
  const queue = partitionQueues[0] as Queue.Queue;
  const cap = config.SCORE_CAP;
  try {
    const profiles = testDb.db.collection<LeadDocument>(COLLECTIONS.leads);
    const pagesCollection = testDb.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    const random = createRandom(42);
    const counts = eventCounts(random);
    console.log(
      `seeding ${LEADS} leads / ${EVENTS} events (Zipf) straight into Redis with the live codec, not through the ` +
        `worker; profiles and history pages into ${testDb.db.databaseName} …`,
    );
    let started = performance.now();
    let pageCount = 0;
    let heaviest = { index: 0, count: 0 };
    let hotLead = "";
    for (let offset = 0; offset < LEADS; offset += CHUNK) {
      const pipeline = redis.pipeline();
      const docs: LeadDocument[] = [];
      const pages: HistoryPageDocument[] = [];
      for (let index = offset; index < Math.min(LEADS, offset + CHUNK); index++) {
        const id = leadId(index);
        const count = counts[index] as number;
        if (count > heaviest.count) heaviest = { index, count };
        const events = eventsOf(index, count, random);
        const last = events.at(-1) as ScorableEvent;
        const fold = foldLiveState(id, events, { cap, createdAt: BASE, updatedAt: last.received_at + 1000 });
        const surname = SURNAMES[index % SURNAMES.length] ?? "Doe";
        const profile = {
          name: `Pat ${surname} ${index}`,
          email: `pat${index}@company${index % COMPANIES}.example`,
          company: `Company ${index % COMPANIES}`,
        };
        docs.push({ _id: id, ...profile, created_at: new Date(BASE) });
        pages.push(...fold.pages);
        const { state } = fold;
        if (!hotLead && state.stage === "hot") hotLead = id;
        const keys = keysOf(id);
        pipeline.hset(keys.lead(id), encodeLeadHash({ ...stateFields(state), version: "1", ...profile }));
        pipeline.hset(keys.searchTexts, id, searchText(id, profile));
        const rank =
          HALF_LIFE === null
            ? rankKey(state.score, state.reachedAt, cap)
            : decayRankKey(state.score, state.lastEventAt, HALF_LIFE);
        pipeline.zadd(keys.byScore, rank, id);
        pipeline.zadd(keys.byUpdated, state.updatedAt, id);
        pipeline.zadd(keys.byUpdatedIn(state.stage), state.updatedAt, id);
        pipeline.zadd(keys.byLastEvent, state.lastEventAt ?? 0, id);
        pipeline.zadd(keys.byLastEventIn(state.stage), state.lastEventAt ?? 0, id);
      }
      await pipeline.exec();
      if (REDIS_ONLY) continue;
      await profiles.insertMany(docs, { ordered: false });
      for (let from = 0; from < pages.length; from += 200) {
        await pagesCollection.insertMany(pages.slice(from, from + 200), { ordered: false });
      }
      pageCount += pages.length;
    }
    const seedMs = performance.now() - started;
    console.log(
      `seeded in ${(seedMs / 1000).toFixed(1)} s: ${LEADS} live leads` +
        (REDIS_ONLY ? "" : `, ${LEADS} profiles, ${pageCount} history pages`) +
        ` ` +
        `(heaviest lead: ${heaviest.count} events)`,
    );
    started = performance.now();
    await createMissingIndexes(testDb.db, silentLogger);
    console.log(`indexes created in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // With a half-life, every read (searches too) decays with it at one fixed instant.
    const decay = HALF_LIFE === null ? {} : { halfLife: () => HALF_LIFE, now: () => BASE + 31 * DAY };
    const live = createPartitionedReader({
      redis,
      redisPrefix: config.REDIS_PREFIX,
      partitions: config.LEAD_PARTITIONS,
      cap,
      thresholds: config.STAGE_THRESHOLDS,
      ...decay,
    });
    const scoring = { halfLife: () => HALF_LIFE, reload: async () => {}, start: async () => {}, close: () => {} };
    const app = createApp({
      config,
      redis,
      db: testDb.db,
      live,
      scoring,
      queue,
      partitionQueues,
      log: silentLogger,
      now: decay.now,
    });

    /** The path of page `n` (1-based) of a list, following its `Link` headers. */
    async function pageUrl(path: string, n: number): Promise<string> {
      let url = path;
      for (let page = 1; page < n; page++) {
        const next = (await app.request(url, withReadToken())).headers.get("link")?.match(/^<([^>]+)>/)?.[1];
        if (!next) throw new Error(`${path} has fewer than ${n} pages`);
        url = next;
      }
      return url;
    }
    const sample = Array.from({ length: 1000 }, () => leadId(Math.floor(random() * LEADS)));
    let turn = 0;
    const nextSample = () => sample[turn++ % sample.length] as string;
    const heavy = leadId(heaviest.index);
    // Page 10 of the heaviest lead's history, its cursor followed once here (a history cursor names the last entry's
    // sort key, which only the history knows).
    const deepHistory = await pageUrl(`/api/leads/${heavy}/history?limit=50`, 10);
    const hotPage5 = await pageUrl("/api/leads?stage=hot&sort=-score&limit=50", 5);
    const hotCursor = new URL(hotPage5, "http://x").searchParams.get("cursor") ?? "";
    const hotAfter = JSON.parse(Buffer.from(hotCursor, "base64url").toString()) as { id: string; value: number };
    // Every partition's texts, walked as the API's search walks them.
    const searcher = createPartitionedSearcher({
      redis,
      keys: prefixes.map((prefix) => liveKeys(prefix)),
      cap,
      thresholds: config.STAGE_THRESHOLDS,
      ...decay,
    });
    const companySearch = { company: "Company 7", sort: "-score" } as const;
    const qSearch = { q: "garcia", sort: "-score" } as const;
    const companyMatches = (await searcher.matches(companySearch, MAX_SEARCH_MATCHES)).length;
    const qMatches = (await searcher.matches(qSearch, MAX_SEARCH_MATCHES)).length;

    const scenarios: Scenario[] = [
      {
        name: "leaderboard top 50",
        path: "/api/leads/leaderboard?limit=50",
        baseline: () => live.leaderboard(50),
        baselineName: "reader",
      },
      {
        name: "stage=hot&sort=-score page 1",
        path: "/api/leads?stage=hot&sort=-score&limit=50",
        baseline: () => live.list({ stage: "hot", sort: "-score", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "stage=hot&sort=-score page 5 (cursor)",
        path: hotPage5,
        baseline: () => live.list({ stage: "hot", sort: "-score", limit: 50, after: hotAfter }),
        baselineName: "reader",
      },
      {
        name: "sort=-updated_at page 1",
        path: "/api/leads?sort=-updated_at&limit=50",
        baseline: () => live.list({ sort: "-updated_at", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "stage=hot&sort=-updated_at page 1",
        path: "/api/leads?stage=hot&sort=-updated_at&limit=50",
        baseline: () => live.list({ stage: "hot", sort: "-updated_at", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "min_score=300&sort=-updated_at (walks)",
        path: "/api/leads?min_score=300&sort=-updated_at&limit=50",
        baseline: () => live.list({ minScore: 300, sort: "-updated_at", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "sort=-last_event_at page 1",
        path: "/api/leads?sort=-last_event_at&limit=50",
        baseline: () => live.list({ sort: "-last_event_at", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "stage=hot&sort=-last_event_at",
        path: "/api/leads?stage=hot&sort=-last_event_at&limit=50",
        baseline: () => live.list({ stage: "hot", sort: "-last_event_at", limit: 50 }),
        baselineName: "reader",
      },
      {
        name: "lead detail with rank (random leads)",
        path: () => `/api/leads/${nextSample()}`,
        baseline: () => Promise.all([live.lead(hotLead), live.rank(hotLead)]),
        baselineName: "reader",
      },
      {
        name: "history first page (random leads)",
        path: () => `/api/leads/${nextSample()}/history`,
        baseline: () => live.leadWithTail(hotLead),
        baselineName: "reader",
      },
      {
        name: `history first page (heaviest lead, ${heaviest.count} entries)`,
        path: `/api/leads/${heavy}/history`,
        baseline: () => live.leadWithTail(heavy),
        baselineName: "reader",
      },
      {
        name: `history page 10 (heaviest lead: MongoDB pages)`,
        path: deepHistory,
        baseline: () => pagesCollection.find({ _id: { $in: [`${heavy}|x`] } }).toArray(),
        baselineName: "find _id $in",
        mongo: true,
      },
      {
        name: "score series, 600 buckets (random leads)",
        path: () => `/api/leads/${nextSample()}/series?buckets=600`,
        baseline: () => live.leadWithTail(hotLead),
        baselineName: "reader",
      },
      {
        name: `score series, 600 buckets (heaviest lead, ${heaviest.count} entries)`,
        path: `/api/leads/${heavy}/series?buckets=600`,
        baseline: () => live.leadWithTail(heavy),
        baselineName: "reader",
      },
      {
        name: "breakdown (random leads)",
        path: () => `/api/leads/${nextSample()}/breakdown`,
        baseline: () => live.lead(hotLead),
        baselineName: "reader",
      },
      {
        name: `breakdown (heaviest lead, ${heaviest.count} entries)`,
        path: `/api/leads/${heavy}/breakdown`,
        baseline: () => live.lead(heavy),
        baselineName: "reader",
      },
      {
        name: "GET /api/stats",
        path: "/api/stats",
        baseline: () => Promise.all([live.count(), live.countByStage(), live.histogram(100)]),
        baselineName: "reader",
      },
      {
        name: `company=Company 7 (${companyMatches} leads match)`,
        path: "/api/leads?company=Company%207&limit=50",
        baseline: () => searcher.matches(companySearch, MAX_SEARCH_MATCHES),
        baselineName: "searcher",
      },
      {
        name: `q=garcia (${qMatches} leads match)`,
        path: "/api/leads?q=garcia&limit=50",
        baseline: () => searcher.matches(qSearch, MAX_SEARCH_MATCHES),
        baselineName: "searcher",
      },
    ];

    const rows: Record<string, string | number>[] = [];
    for (const scenario of scenarios) {
      if (REDIS_ONLY && scenario.mongo) continue;
      const api = await time(async () => {
        const path = typeof scenario.path === "string" ? scenario.path : scenario.path();
        const response = await app.request(path, withReadToken());
        if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
        await response.arrayBuffer();
      });
      const baseline = await time(async () => {
        await scenario.baseline();
      }, BUDGET_MS / 2);
      const [p50, p99] = [quantile(api, 0.5), quantile(api, 0.99)];
      rows.push({
        scenario: scenario.name,
        requests: api.length,
        "p50 ms": Number(p50.toFixed(2)),
        "p99 ms": Number(p99.toFixed(2)),
        baseline: scenario.baselineName,
        "baseline p50 ms": Number(quantile(baseline, 0.5).toFixed(2)),
        "api/baseline": Number((p50 / quantile(baseline, 0.5)).toFixed(2)),
        "p99 ≤ 20 ms": p99 <= 20 ? "yes" : "no",
      });
      console.log(`  ${scenario.name}: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
    }

    const server = (await testDb.db.admin().command({ buildInfo: 1 })) as { version: string; ferretdbVersion?: string };
    const store = server.ferretdbVersion ? `FerretDB (MongoDB ${server.version} wire)` : `MongoDB ${server.version}`;
    const info = (await redis.info("memory")).match(/used_memory_human:(\S+)/)?.[1] ?? "?";
    console.log(
      `\n${LEADS} leads / ${EVENTS} events, live state seeded directly into Redis (used_memory ${info}); ` +
        (REDIS_ONLY ? "no MongoDB data (--redis-only)" : `profiles and ${pageCount} history pages on ${store}`) +
        (HALF_LIFE === null ? "" : `, decay on (half-life ${HALF_LIFE} s)`) +
        ". In-process app.request(), sequential.",
    );
    console.table(rows);
  } finally {
    await Promise.all(partitionQueues.map((each) => each.close().catch(() => undefined)));
    for (const prefix of new Set([config.REDIS_PREFIX, ...prefixes])) {
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (found.length > 0) await redis.unlink(...found);
      } while (cursor !== "0");
    }
    redis.disconnect();
    await testDb.drop();
    console.log("bench keys and database dropped");
  }
}

await main();
