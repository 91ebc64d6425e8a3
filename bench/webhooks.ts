// Webhook benchmark.
//
// 1. Deliveries/s: --messages (20,000) messages over --leads (1,000) leads are put in the outbox as commits record
//    them, then one dispatcher process (--concurrency requests in flight, all to one subscription) signs and POSTs
//    them to a local receiver that answers 200 at once; beside it, the same number of plain POSTs of the same bodies
//    from this process at the same concurrency (no Redis, no signing): the floor HTTP sets here.
// 2. Slow receivers do not slow scoring: --changes (10,000) stage changes (one +300 event for each of as many leads)
//    drained by one worker process, once with no subscription and once with a subscription to a receiver that
//    takes --slow-ms (2,000) per request and a dispatcher running beside the worker.
//
//   npm run bench:webhooks
//   npm run bench:webhooks -- --messages 50000 --concurrency 64 --changes 10000 --slow-ms 2000
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { COLLECTIONS, type QueuedEvent } from "@leadscore/contracts";
import { outboxKeys } from "@leadscore/live";
import { EVENTS_QUEUE, type EventsJob } from "@leadscore/runtime";
import { createWebhookStore, deliveryBody, parseDelivery } from "@leadscore/webhooks";
import Queue from "bull";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { NODE_TS, type RunningProcess, startProcess, WORKER_ARGS } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    messages: { type: "string", default: "20000" },
    leads: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "64" },
    changes: { type: "string", default: "10000" },
    "slow-ms": { type: "string", default: "2000" },
  },
});
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const T0 = Date.parse("2026-01-01T00:00:00Z");
const cleanups: (() => Promise<void>)[] = [];

async function receiver(delayMs: number) {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count += 1;
      const answer = () => res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url, count: () => count };
}

async function startDispatcher(env: Record<string, string>): Promise<RunningProcess> {
  const dispatcher = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "webhooks/src/main.ts"], {
    ...env,
    LOG_LEVEL: "info",
  });
  cleanups.push(async () => void (await dispatcher.stop("SIGKILL")));
  await dispatcher.waitFor(/dispatcher ready/, 60_000);
  return dispatcher;
}

async function waitFor(check: () => boolean | Promise<boolean>, label: string, timeoutMs = 30 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${label}`);
    await sleep(20);
  }
}

async function deliveriesPerSecond() {
  const total = Number(args.messages);
  const leads = Number(args.leads);
  const concurrency = Number(args.concurrency);
  const prefix = uniqueName("bench-wh");
  const space = await createTestRedis(prefix);
  cleanups.push(space.cleanup);
  const fast = await receiver(0);
  const store = createWebhookStore({ redis: space.redis, redisPrefix: prefix });
  await store.create({ url: fast.url, events: ["lead.score_changed"] });
  const stream = outboxKeys(prefix).stream;
  console.log(`deliveries: ${fmt(total)} messages over ${fmt(leads)} leads, ${concurrency} in flight`);
  for (let from = 0; from < total; from += 1000) {
    const pipeline = space.redis.pipeline();
    for (let i = from; i < Math.min(total, from + 1000); i += 1) {
      const lead = `lead-${i % leads}`;
      const score = String(Math.floor(i / leads) + 1);
      pipeline.xadd(
        stream,
        "*",
        "type",
        "lead.score_changed",
        "lead",
        lead,
        "from",
        "cold",
        "to",
        "cold",
        "score",
        score,
        "prev",
        String(Number(score) - 1),
        "event",
        `e-${i}`,
        "etype",
        "page_view",
        "at",
        String(Date.now()),
        "rank",
        "1",
      );
    }
    await pipeline.exec();
  }
  const started = performance.now();
  const dispatcher = await startDispatcher({
    NODE_ENV: "test",
    REDIS_URL,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: "warn",
    WEBHOOK_CONCURRENCY: String(concurrency),
    WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: String(concurrency),
  });
  const ready = performance.now();
  await waitFor(() => fast.count() >= total, "deliveries");
  const seconds = (performance.now() - ready) / 1000;
  await dispatcher.stop("SIGTERM");
  const rate = total / seconds;
  console.log(
    `  dispatcher: ${fmt(rate)} deliveries/s (${seconds.toFixed(1)} s after it was ready; start ${((ready - started) / 1000).toFixed(1)} s)`,
  );

  // The floor: plain POSTs of the same bodies at the same concurrency, from this process.
  const sample = parseDelivery(
    JSON.stringify({
      id: "1",
      msg: "msg_1",
      type: "lead.score_changed",
      lead: "lead-1",
      from: "cold",
      to: "cold",
      score: "2",
      prev: "1",
      event: "e-1",
      etype: "page_view",
      rank: "1",
      at: Date.now(),
      status: "pending",
      created_at: Date.now(),
      round_at: null,
      tries: 0,
      next_at: null,
      attempts: [],
    }),
  );
  const body = deliveryBody(sample);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(fast.url);
  const before = fast.count();
  const rawStarted = performance.now();
  let sent = 0;
  const post = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(target, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1;
        await post();
      }
    }),
  );
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  agent.destroy();
  const raw = (fast.count() - before) / rawSeconds;
  console.log(`  plain POSTs: ${fmt(raw)} requests/s; dispatcher at ${(rate / raw).toFixed(2)}× of it`);
  return { rate, raw };
}

async function workerRate(label: string, slowMs: number | null) {
  const changes = Number(args.changes);
  // One event per lead (+300: cold → hot), so each event is one change (a batch folding two events of a lead would
  // record their net change).
  const leads = changes;
  const prefix = uniqueName("bench-wh");
  const space = await createTestRedis(prefix);
  const testDb = await createTestDb(uniqueName("bench-wh"));
  cleanups.push(async () => {
    await space.cleanup();
    await testDb.drop();
  });
  const at = new Date();
  await testDb.db
    .collection(COLLECTIONS.rules)
    .insertMany([
      { _id: "flip", event_type: "flip", points: 300, active: true, label: "Flip", created_at: at, updated_at: at },
    ] as never[]);
  const env = {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: testDb.url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: "warn",
  };
  let slow: Awaited<ReturnType<typeof receiver>> | undefined;
  if (slowMs !== null) {
    slow = await receiver(slowMs);
    await createWebhookStore({ redis: space.redis, redisPrefix: prefix }).create({
      url: slow.url,
      events: ["lead.stage_changed"],
    });
    await startDispatcher(env);
  }
  const queue = new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix });
  cleanups.push(() => queue.close());
  await queue.pause();
  const received = Date.now();
  const events: QueuedEvent[] = Array.from({ length: changes }, (_, i) => ({
    event_id: `c-${i}`,
    lead_id: `lead-${i % leads}`,
    event_type: "flip",
    timestamp: T0 + i,
    received_at: received,
    metadata: {},
  }));
  const jobs = [];
  for (let from = 0; from < changes; from += 100) {
    jobs.push({ data: { v: 1 as const, events: events.slice(from, from + 100) }, opts: { attempts: 5 } });
  }
  await queue.addBulk(jobs);
  const worker = startProcess(NODE_TS[0], WORKER_ARGS, {
    ...env,
    LOG_LEVEL: "info",
  });
  cleanups.push(async () => void (await worker.stop("SIGTERM", 60_000)));
  await worker.waitFor(/worker ready/, 120_000);
  const started = performance.now();
  await queue.resume();
  await waitFor(async () => {
    const counts = await queue.getJobCounts();
    return counts.completed + counts.failed >= jobs.length;
  }, "drain");
  const seconds = (performance.now() - started) / 1000;
  const rate = changes / seconds;
  const backlog = await createWebhookStore({ redis: space.redis, redisPrefix: prefix }).backlog();
  console.log(
    `  ${label}: ${fmt(rate)} events/s (${seconds.toFixed(1)} s)` +
      (slow ? `; by then ${fmt(slow.count())} requests reached the slow receiver, ${fmt(backlog)} waiting` : ""),
  );
  await worker.stop("SIGTERM", 60_000);
  return rate;
}

async function main() {
  const { rate, raw } = await deliveriesPerSecond();
  console.log(`\nworker with ${fmt(Number(args.changes))} stage changes (one worker process):`);
  const alone = await workerRate("no subscription", null);
  const slowMs = Number(args["slow-ms"]);
  const beside = await workerRate(`a receiver taking ${slowMs} ms per request`, slowMs);
  console.log(
    `\n| measure | figure |\n| --- | ---: |\n| deliveries/s to a fast local receiver | ${fmt(rate)} |` +
      `\n| plain POSTs/s, same concurrency (floor) | ${fmt(raw)} |` +
      `\n| worker events/s, no subscription | ${fmt(alone)} |` +
      `\n| worker events/s, ${slowMs} ms receiver subscribed | ${fmt(beside)} (${(beside / alone).toFixed(2)}×) |`,
  );
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
process.exit(0);
