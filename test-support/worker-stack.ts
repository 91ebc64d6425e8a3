// Real Redis, Bull and MongoDB for worker tests, isolated by a unique queue prefix and database per suite.
import {
  COLLECTIONS,
  DEFAULT_RULES,
  type MergeRequest,
  parseConfig,
  type QueuedEvent,
  type RuleDocument,
  type WorkerConfig,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import { createLiveReader, type LiveEntry, type LiveLead, liveKeys, wholeHistory } from "@leadscore/live";
import { auditLiveState, entryView, loadPagesFrom } from "@leadscore/live/audit";
import { EVENTS_QUEUE, type EventsJob, type RescoreJob, readScoringSettings, silentLogger } from "@leadscore/runtime";
import { createWorker, type PreviewOptions, type Worker, type WorkerOptions } from "@leadscore/worker";
import Queue from "bull";
import { Redis } from "ioredis";
import type { Db } from "mongodb";
import { createTestDb, createTestRedis, eventually, REDIS_URL, uniqueName } from "./index.ts";

export const T0 = Date.parse("2026-01-01T00:00:00Z");

export function queued(
  leadId: string,
  eventId: string,
  eventType: string,
  timestamp: number,
  metadata: Record<string, unknown> = {},
): QueuedEvent {
  return { event_id: eventId, lead_id: leadId, event_type: eventType, timestamp, received_at: Date.now(), metadata };
}

/** An identify of `from` as `into`, as the edge queues it. */
export function identifyRequest(from: string, into: string): MergeRequest {
  return { from, into, kind: "identify", at: Date.now() };
}

/** Queues merges on the worker's queue, as the edge does: a job of no events. */
export async function sendMerges(stack: Pick<TestStack, "queue">, merges: MergeRequest[]): Promise<void> {
  await stack.queue.add({ v: 1, events: [], merges } satisfies EventsJob, { attempts: 10, backoff: 50 });
}

/** The defaults plus test rules worth +600, +100, −50 (and one inactive). */
export const TEST_RULES: Omit<RuleDocument, "created_at" | "updated_at">[] = [
  ...DEFAULT_RULES,
  { _id: "big", event_type: "big", points: 600, active: true, label: "Big" },
  { _id: "small", event_type: "small", points: 100, active: true, label: "Small" },
  { _id: "unsubscribe", event_type: "unsubscribe", points: -50, active: true, label: "Unsubscribe" },
  { _id: "dormant", event_type: "dormant", points: 70, active: false, label: "Dormant" },
];

export interface TestStack {
  config: WorkerConfig;
  env: Record<string, string>;
  db: Db;
  /** A producer on the worker's queue. */
  queue: Queue.Queue<EventsJob | unknown>;
  workers: Worker[];
  startWorker(options?: WorkerOptions): Promise<Worker>;
  /** Adds events as jobs of `perJob` events each; each job retries transient failures. */
  send(events: QueuedEvent[], perJob?: number): Promise<void>;
  /** Waits until every job added so far has completed or failed. */
  drained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createStack(options: { rules?: boolean; env?: Record<string, string> } = {}): Promise<TestStack> {
  const name = uniqueName("worker");
  const testDb = await createTestDb(name);
  const prefix = uniqueName("wq");
  const testRedis = await createTestRedis(prefix);
  const env = {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: testDb.url,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: "error",
    JOB_LOCK_MS: "2000",
    ...options.env,
  };
  const config = parseConfig(WorkerConfigSchema, env);
  if (options.rules !== false) {
    const at = new Date();
    await testDb.db
      .collection<RuleDocument>(COLLECTIONS.rules)
      .insertMany(TEST_RULES.map((rule) => ({ ...rule, created_at: at, updated_at: at })));
  }
  const queue = new Queue<EventsJob | unknown>(EVENTS_QUEUE, REDIS_URL, { prefix });
  let added = 0;
  const workers: Worker[] = [];
  return {
    config,
    env,
    db: testDb.db,
    queue,
    workers,
    async startWorker(workerOptions = {}) {
      const worker = await createWorker(config, silentLogger, { summaryEveryMs: 0, ...workerOptions });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async send(events, perJob = 50) {
      const jobs = [];
      for (let from = 0; from < events.length; from += perJob) {
        jobs.push({
          data: { v: 1, events: events.slice(from, from + perJob) } satisfies EventsJob,
          opts: { attempts: 10, backoff: { type: "exponential", delay: 50 } },
        });
      }
      await queue.addBulk(jobs);
      added += jobs.length;
    },
    async drained(timeoutMs = 60_000) {
      await eventually(async () => {
        const counts = await queue.getJobCounts();
        if (counts.completed + counts.failed < added || counts.active > 0 || counts.waiting > 0) return false;
        // Leads handed to the deep lane are folded after their jobs complete.
        return (await testRedis.redis.hlen(liveKeys(prefix).deep)) === 0;
      }, timeoutMs);
    },
    async close() {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await queue.close();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}

/** The lead's whole history (pages in MongoDB, then the tail in Redis), oldest first. */
export async function historyOf(stack: Pick<TestStack, "db" | "config">, leadId: string): Promise<LiveEntry[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const lead = await liveReader(stack, redis).leadWithTail(leadId);
    return lead ? await wholeHistory(lead, loadPagesFrom(stack.db), stack.config.SCORE_CAP) : [];
  } finally {
    redis.disconnect();
  }
}

/** The lead's live state, without its tail, in the API's field names. */
export async function leadOf(stack: Pick<TestStack, "db" | "config">, leadId: string) {
  const redis = new Redis(REDIS_URL);
  try {
    const lead: LiveLead | null = await liveReader(stack, redis).lead(leadId);
    if (!lead) return null;
    return {
      name: lead.name,
      email: lead.email,
      company: lead.company,
      current_score: lead.score,
      stage: lead.stage,
      event_count: lead.count,
      last_sort_key: lead.lastKey,
      last_event_at: lead.lastEventAt,
      score_reached_at: lead.reachedAt,
    };
  } finally {
    redis.disconnect();
  }
}

function liveReader(stack: Pick<TestStack, "config">, redis: Redis) {
  return createLiveReader({
    redis,
    redisPrefix: stack.config.REDIS_PREFIX,
    cap: stack.config.SCORE_CAP,
    thresholds: stack.config.STAGE_THRESHOLDS,
  });
}

export { entryView };

/**
 * Checks every lead against the pure fold of its stored events and the history invariants; returns the problems
 * found (empty when all is well).
 */
export async function auditAll(stack: Pick<TestStack, "db" | "config">): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const report = await auditLiveState({
      db: stack.db,
      redis,
      redisPrefix: stack.config.REDIS_PREFIX,
      cap: stack.config.SCORE_CAP,
      thresholds: stack.config.STAGE_THRESHOLDS,
      halfLifeSeconds: (await readScoringSettings(stack.db)).half_life_seconds,
    });
    return report.problems;
  } finally {
    redis.disconnect();
  }
}

/** What a rebuild of `stack`'s live state runs with, on `redis` (a deep lane adds its generation and emitter). */
export function rebuildOptionsOf(stack: Pick<TestStack, "db" | "config">, redis: Redis) {
  return {
    db: stack.db,
    redis,
    keys: liveKeys(stack.config.REDIS_PREFIX),
    cap: stack.config.SCORE_CAP,
    thresholds: stack.config.STAGE_THRESHOLDS,
    log: silentLogger,
  };
}

/** What `runPreview` needs to preview over the stack's store, reading `db` (the stack's unless given). */
export function previewOptions(stack: Pick<TestStack, "db" | "config">, redis: Redis, db = stack.db): PreviewOptions {
  return {
    db,
    redis,
    prefix: stack.config.REDIS_PREFIX,
    keys: liveKeys(stack.config.REDIS_PREFIX),
    cap: stack.config.SCORE_CAP,
    thresholds: stack.config.STAGE_THRESHOLDS,
    log: silentLogger,
  };
}

/** A re-score job of `version` as a publish queues it, before it starts. */
export function queuedRescore(id: string, version: number): RescoreJob {
  return {
    id,
    version,
    webhooks: "suppress",
    state: "queued",
    created_at: Date.now(),
    started_at: null,
    updated_at: null,
    finished_at: null,
    progress: { leads_total: 0, events_total: 0, leads_done: 0, events_done: 0, leads_changed: 0, stage_changes: 0 },
    error: null,
  };
}
