// Merge benchmark: how long after the identify is queued the known lead's score and history are the merged ones, and
// what resolving ids costs the worker per event.
//
//   npm run bench:merge                                   # 100 merges of 1,000 anonymous events into 10,000
//   npm run bench:merge -- --known 2000 --anonymous 200 --merges 20     # smaller, for a shared box
//   npm run bench:merge -- --partitions 6   # over six lead partitions, each anonymous lead in another than its known one
//
// Each merge has a known lead of --known events and an anonymous one of --anonymous events (page views, one a
// minute, interleaved in time), scored by one in-process worker before any merge. Then the merges are queued one at a
// time, each timed from the moment Bull stored it (when the edge answers 202) to the moment the known lead's live
// state counts both leads' events (polled every 2 ms). Then the resolution: the worker's one HMGET of a batch's
// distinct lead ids, timed alone on batches of the drain's shape (--batch events over --leads leads, 10% merged).
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { QueuedEvent } from "@leadscore/contracts";
import { leadHashField, liveKeys, resolveLeads } from "@leadscore/live";
import { EVENTS_QUEUE, type EventsJob, leadPartition, partitionPrefixes } from "@leadscore/runtime";
import Queue from "bull";
import { Redis } from "ioredis";
import { createTestRedis, REDIS_URL } from "../test-support/index.ts";
import { createStack, type TestStack } from "../test-support/worker-stack.ts";

const { values: args } = parseArgs({
  options: {
    known: { type: "string", default: "10000" },
    anonymous: { type: "string", default: "1000" },
    merges: { type: "string", default: "100" },
    batch: { type: "string", default: "5000" },
    leads: { type: "string", default: "1000" },
    partitions: { type: "string", default: "1" },
  },
});
const PARTITIONS = Number(args.partitions);

const T0 = Date.parse("2026-01-01T00:00:00Z");
const MINUTE = 60_000;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;

function eventsOf(leadId: string, count: number, offset: number): QueuedEvent[] {
  return Array.from({ length: count }, (_, n) => ({
    event_id: `${leadId}-${n}`,
    lead_id: leadId,
    event_type: "page_view",
    timestamp: T0 + (n * 10 + offset) * MINUTE,
    received_at: Date.now(),
    metadata: {},
  }));
}

/** Merge `m`'s anonymous id: with several partitions, the first `anon-<m>[.<n>]` in another than `known-<m>`'s. */
function anonymousOf(m: number): string {
  for (let n = 0; ; n += 1) {
    const id = n === 0 ? `anon-${m}` : `anon-${m}.${n}`;
    if (PARTITIONS === 1 || leadPartition(id, PARTITIONS) !== leadPartition(`known-${m}`, PARTITIONS)) return id;
  }
}

async function mergeLatency(stack: TestStack, redis: Redis) {
  const known = Number(args.known);
  const anonymous = Number(args.anonymous);
  const merges = Number(args.merges);
  const prefixes = partitionPrefixes(stack.config.REDIS_PREFIX, PARTITIONS);
  const keysOf = (id: string) => liveKeys(prefixes[leadPartition(id, PARTITIONS)] as string);
  // Each partition's queue, as the edge queues a lead's events and a merge (on the merged id's partition).
  const queues =
    PARTITIONS === 1 ? [stack.queue] : prefixes.map((prefix) => new Queue(EVENTS_QUEUE, REDIS_URL, { prefix }));
  const queueOf = (id: string) => queues[leadPartition(id, PARTITIONS)] as Queue.Queue<unknown>;
  const send = async (events: QueuedEvent[]) => {
    const jobs = [];
    for (let from = 0; from < events.length; from += 100) {
      jobs.push({ data: { v: 1, events: events.slice(from, from + 100) } satisfies EventsJob, opts: { attempts: 10 } });
    }
    await queueOf(events[0]?.lead_id ?? "").addBulk(jobs);
  };
  const count = leadHashField("count");
  const countOf = async (id: string) => Number(await redis.hget(keysOf(id).lead(id), count));
  console.log(
    `seeding ${merges} known leads of ${fmt(known)} events and anonymous ones of ${fmt(anonymous)}, ` +
      `${PARTITIONS} lead partition(s)…`,
  );
  const seeded = performance.now();
  for (let m = 0; m < merges; m += 1) {
    // Jobs of 100 events, as the edge's batches are: jobs of 1,000 outlived Bull's lock on a loaded box, and their
    // replays' duplicates sent leads to the rescan, which reads their stored events (a scan on FerretDB).
    await send(eventsOf(`known-${m}`, known, 0));
    await send(eventsOf(anonymousOf(m), anonymous, 5));
  }
  for (let m = 0; m < merges; m += 1) {
    while ((await countOf(`known-${m}`)) !== known || (await countOf(anonymousOf(m))) !== anonymous) await sleep(20);
  }
  console.log(`  scored in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
  const latencies: number[] = [];
  for (let m = 0; m < merges; m += 1) {
    const from = anonymousOf(m);
    const job: EventsJob = {
      v: 1,
      events: [],
      merges: [{ from, into: `known-${m}`, kind: "identify", at: Date.now() }],
    };
    await queueOf(from).add(job, { removeOnComplete: true });
    const queued = performance.now();
    while ((await countOf(`known-${m}`)) !== known + anonymous) await sleep(2);
    latencies.push(performance.now() - queued);
  }
  if (PARTITIONS > 1) await Promise.all(queues.map((queue) => queue.close()));
  const sorted = [...latencies].sort((a, b) => a - b);
  let total = 0;
  for (const prefix of prefixes) total += await redis.zcard(liveKeys(prefix).byScore);
  if (total !== merges) throw new Error(`${total} leads left in the leaderboard, expected ${merges}`);
  console.log(
    `merge latency, ${fmt(anonymous)} anonymous events into ${fmt(known)}, ${merges} merges, ${PARTITIONS} partition(s): ` +
      `p50 ${quantile(sorted, 0.5).toFixed(0)} ms, p99 ${quantile(sorted, 0.99).toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`,
  );
}

async function resolutionCost(stack: TestStack, redis: Redis) {
  const keys = liveKeys(stack.config.REDIS_PREFIX);
  const leads = Number(args.leads);
  const batch = Number(args.batch);
  const aliases: Record<string, string> = {};
  for (let lead = 0; lead < leads; lead += 10) aliases[`lead-${lead}`] = `root-${lead}`;
  await redis.hset(keys.aliases, aliases);
  const ids = Array.from({ length: batch }, (_, n) => `lead-${(n * 7919) % leads}`);
  const rounds = 200;
  for (let warm = 0; warm < 20; warm += 1) await resolveLeads(redis, keys, [...new Set(ids)]);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let round = 0; round < rounds; round += 1) {
    const roots = await resolveLeads(redis, keys, [...new Set(ids)]);
    for (const id of ids) roots.get(id);
  }
  const wall = (performance.now() - started) / rounds;
  const used = process.cpuUsage(cpu);
  const cpuPerEvent = (used.user + used.system) / (rounds * batch);
  console.log(
    `id resolution, batches of ${fmt(batch)} events over ${fmt(leads)} leads (10% merged): ` +
      `${wall.toFixed(2)} ms a batch, ${((wall * 1000) / batch).toFixed(2)} µs/event wall, ${cpuPerEvent.toFixed(2)} µs/event of this process's CPU`,
  );
}

async function main() {
  const stack = await createStack({ env: { LEAD_PARTITIONS: String(PARTITIONS) } });
  const redis = new Redis(REDIS_URL);
  try {
    await stack.startWorker({ deepLaneIdleMs: 5 });
    await mergeLatency(stack, redis);
    await resolutionCost(stack, redis);
  } finally {
    redis.disconnect();
    await stack.close();
    // The partitions' keys lie under their own tags, which the stack's cleanup does not match.
    const prefixes = partitionPrefixes(stack.config.REDIS_PREFIX, PARTITIONS);
    for (const prefix of PARTITIONS === 1 ? [] : prefixes) await (await createTestRedis(prefix)).cleanup();
  }
}

await main();
