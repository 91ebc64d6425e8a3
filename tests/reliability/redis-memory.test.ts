// What keeps Redis from filling up: every de-duplication mark expires, scored jobs are deleted, and while no worker
// scores the queue the edge stops taking events once QUEUE_MAX_DEPTH are waiting — and takes them again once a
// worker drains it. Against the edge under Deno, so the limit is the one a deployment gets.
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DEFAULT_DEDUPE_BUCKETS, parseConfig, type WorkerConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { DEDUPE_EPOCH_SECONDS, dedupeSlot, EVENTS_QUEUE, readDedupeMark, silentLogger } from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  MONGO_URL,
  REDIS_URL,
  uniqueName,
} from "../../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, loggedPort, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { foldedCount } from "./audit.ts";
import { queueState } from "./queue-state.ts";

const WRITE_KEY = "memory-key";
const DEDUPE_TTL_SECONDS = 120;
const MAX_DEPTH = 300;
/** Events a second sent while filling the queue; the depth is sampled once a second, so it may overshoot by this. */
const FILL_RATE = 500;
const BATCH = 25;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every key under `pattern`, by SCAN. */
async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== "0");
  return found;
}

describe("when events pile up in Redis", () => {
  const prefix = uniqueName("memory");
  let db: Awaited<ReturnType<typeof createTestDb>>;
  let redis: Redis;
  let edge: RunningProcess;
  let base = "";
  let worker: Worker | undefined;
  const accepted = new Set<string>();
  let next = 0;

  const sendBatch = async () => {
    const events = Array.from({ length: BATCH }, () => ({
      event_id: `${prefix}-${next++}`,
      lead_id: `${prefix}-lead-${next % 7}`,
      event_type: "page_view",
    }));
    const response = await fetch(`${base}/api/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": WRITE_KEY },
      body: JSON.stringify({ events }),
    });
    if (response.status === 202) {
      const body = (await response.json()) as { results: { event_id: string; status: string }[] };
      for (const result of body.results) if (result.status === "accepted") accepted.add(result.event_id);
    } else {
      await response.arrayBuffer();
    }
    return response;
  };
  const waitingEvents = async () => {
    const ids = await redis.lrange(`${prefix}:${EVENTS_QUEUE}:wait`, 0, -1);
    let events = 0;
    for (const id of ids) {
      const data = await redis.hget(`${prefix}:${EVENTS_QUEUE}:${id}`, "data");
      events += (JSON.parse(data ?? '{"events":[]}') as { events: unknown[] }).events.length;
    }
    return events;
  };

  beforeAll(async () => {
    db = await createTestDb(prefix);
    redis = new Redis(REDIS_URL);
    edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL,
      MONGO_URL: db.url,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: WRITE_KEY,
      DEDUPE_TTL_SECONDS: String(DEDUPE_TTL_SECONDS),
      QUEUE_MAX_DEPTH: String(MAX_DEPTH),
      LOG_LEVEL: "info",
    });
    const port = await loggedPort(edge, "edge listening", 60_000);
    base = `http://127.0.0.1:${port}`;
  }, 90_000);

  afterAll(async () => {
    await worker?.close();
    await edge?.stop("SIGKILL");
    redis?.disconnect();
    await (await createTestRedis(prefix)).cleanup();
    await db?.drop();
  }, 60_000);

  // One test, not two: taking events "again" needs the refusal before it.
  it("refuses events with 503 once QUEUE_MAX_DEPTH are waiting and no worker scores them, and takes them again once a worker drains the queue", async () => {
    let refused: Response | undefined;
    const deadline = Date.now() + 60_000;
    while (!refused && Date.now() < deadline) {
      const response = await sendBatch();
      if (response.status === 503) refused = response;
      else expect(response.status).toBe(202);
      await sleep((BATCH / FILL_RATE) * 1000);
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get("retry-after")).toBe("1");
    const waiting = await waitingEvents();
    expect(waiting).toBeGreaterThan(MAX_DEPTH);
    expect(waiting).toBeLessThanOrEqual(MAX_DEPTH + FILL_RATE + BATCH);
    // And it stays refused while nothing drains: every batch of the next second, which spans a new sample of the depth.
    const sampled = Date.now() + 1_100;
    while (Date.now() < sampled) {
      expect((await sendBatch()).status).toBe(503);
      await sleep((BATCH / FILL_RATE) * 1000);
    }

    const env = { NODE_ENV: "test", REDIS_URL, MONGO_URL: db.url, REDIS_PREFIX: prefix, LOG_LEVEL: "error" };
    const config: WorkerConfig = parseConfig(WorkerConfigSchema, env);
    worker = await createWorker(config, silentLogger, { summaryEveryMs: 0 });
    await worker.start();
    await eventually(async () => {
      const state = await queueState(redis, prefix);
      return state.waiting + state.active + state.delayed === 0;
    }, 120_000);
    await eventually(async () => (await sendBatch()).status === 202, 10_000);
    await eventually(async () => {
      const state = await queueState(redis, prefix);
      return state.waiting + state.active === 0;
    }, 60_000);

    await eventually(async () => (await redis.hlen(liveKeys(prefix).deep)) === 0, 60_000);
    const scored = await foldedCount(redis, prefix);
    expect(scored).toBe(accepted.size);
    const state = await queueState(redis, prefix);
    expect({ completed: state.completed, failed: state.failed }).toEqual({ completed: 0, failed: 0 });
    // No job hash is left behind: only Bull's counters and bookkeeping.
    const jobKeys = (await keysMatching(redis, `${prefix}:${EVENTS_QUEUE}:*`)).filter((key) => /:\d+$/.test(key));
    expect(jobKeys).toEqual([]);
  }, 270_000);
});

describe("when events arrive by every ingestion route", () => {
  const prefix = uniqueName("dedupe-ttl");
  let redis: Redis;
  let edge: RunningProcess;
  let base = "";

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL,
      MONGO_URL,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: WRITE_KEY,
      DEDUPE_TTL_SECONDS: String(DEDUPE_TTL_SECONDS),
      LOG_LEVEL: "info",
    });
    base = `http://127.0.0.1:${await loggedPort(edge, "edge listening", 60_000)}`;
  }, 90_000);

  afterAll(async () => {
    await edge?.stop("SIGKILL");
    redis?.disconnect();
    await (await createTestRedis(prefix)).cleanup();
  }, 60_000);

  it("gives every de-duplication mark written an expiry within DEDUPE_TTL_SECONDS", async () => {
    const event = (n: number, extra: object = {}) => ({
      event_id: `${prefix}-${n}`,
      lead_id: `${prefix}-lead-${n % 3}`,
      event_type: "page_view",
      ...extra,
    });
    const post = (
      path: string,
      body: object | string | Uint8Array<ArrayBuffer>,
      headers: Record<string, string> = {},
    ) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-write-key": WRITE_KEY, ...headers },
        body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
      });
    const statuses: number[] = [];
    const answer = async (response: Promise<Response>) => {
      const got = await response;
      statuses.push(got.status);
      await got.arrayBuffer();
    };
    // 13 ids of its own, 2 minted by the edge; repeats on other routes and an invalid event write no mark.
    await answer(post("/api/events", event(1)));
    await answer(post("/api/events", { lead_id: `${prefix}-lead-0`, event_type: "email_open" }));
    await answer(post("/api/events", event(1, { event_type: "purchase" })));
    await answer(post("/api/batch", { events: [event(2), event(3), event(2), { lead_id: "" }, event(4)] }));
    await answer(
      post("/api/batch", gzipSync(JSON.stringify({ events: [event(5), event(6), event(1)] })), {
        "content-encoding": "gzip",
      }),
    );
    for (const n of [7, 8]) {
      await answer(
        fetch(`${base}/p.gif?lead_id=${prefix}-lead-1&event_type=page_view&event_id=${prefix}-${n}&key=${WRITE_KEY}`),
      );
    }
    await answer(fetch(`${base}/p.gif?lead_id=${prefix}-lead-1&event_type=page_view&key=${WRITE_KEY}`));
    await answer(
      post(`/beacon?key=${WRITE_KEY}`, JSON.stringify({ events: [event(9), event(10), event(7)] }), {
        "content-type": "text/plain",
      }),
    );
    await answer(post(`/beacon?key=${WRITE_KEY}`, JSON.stringify(event(11)), { "content-type": "text/plain" }));
    await answer(post("/api/batch", { events: [event(12), event(13), event(9)] }));
    expect(statuses).toEqual([202, 202, 200, 202, 202, 200, 200, 200, 204, 204, 202]);

    const buckets = (await keysMatching(redis, `${prefix}:dd:*`)).filter((key) => key !== `${prefix}:dd:sweep`);
    const marks = async () => {
      const all = await Promise.all(buckets.map((bucket) => redis.hgetall(bucket)));
      return all.flatMap((fields) => Object.entries(fields));
    };
    const own = Array.from({ length: 13 }, (_, i) => dedupeSlot(prefix, `${prefix}-${i + 1}`, DEFAULT_DEDUPE_BUCKETS));
    for (const slot of own) expect(buckets).toContain(slot.key);
    expect(await marks()).toHaveLength(15);
    // Every claim confirmed (past its 10 s pending mark), each mark expiring within the window by Redis' clock.
    await eventually(async () => {
      const now = Number((await redis.time())[0]) - DEDUPE_EPOCH_SECONDS;
      return (await marks()).every(([, at]) => Number(at) > now + 10 && Number(at) <= now + DEDUPE_TTL_SECONDS);
    }, 10_000);
    for (const slot of own) expect((await readDedupeMark(redis, slot)).state).toBe("seen");
  });
});
