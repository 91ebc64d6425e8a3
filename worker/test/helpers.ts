// Real Redis, Bull and MongoDB for worker tests, isolated by a unique queue prefix and database per suite.
import {
  COLLECTIONS,
  DEFAULT_RULES,
  EVENTS_QUEUE,
  type EventDocument,
  type EventsJob,
  foldScores,
  type HistoryDocument,
  type LeadDocument,
  parseConfig,
  type QueuedEvent,
  type RuleDocument,
  silentLogger,
  toScorable,
  type WorkerConfig,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import Queue from "bull";
import type { Db } from "mongodb";
import { createTestDb, createTestRedis, eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { createWorker, type Worker, type WorkerOptions } from "../src/worker.ts";

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
        return counts.completed + counts.failed >= added && counts.active === 0 && counts.waiting === 0;
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

export async function historyOf(db: Db, leadId: string): Promise<HistoryDocument[]> {
  return db.collection<HistoryDocument>(COLLECTIONS.history).find({ lead_id: leadId }).sort({ sort_key: 1 }).toArray();
}

export async function leadOf(db: Db, leadId: string): Promise<LeadDocument | null> {
  return db.collection<LeadDocument>(COLLECTIONS.leads).findOne({ _id: leadId });
}

/** The comparable part of a history entry. */
export function entryView(entry: {
  event_id: string;
  points: number;
  delta: number;
  score: number;
  seq?: number;
  rule_id: string | null;
}) {
  return {
    event_id: entry.event_id,
    points: entry.points,
    delta: entry.delta,
    score: entry.score,
    seq: entry.seq,
    rule_id: entry.rule_id,
  };
}

/**
 * Checks every lead against the pure fold of its stored events and the history invariants; returns the problems
 * found (empty when all is well).
 */
export async function auditAll(db: Db, cap: number): Promise<string[]> {
  const problems: string[] = [];
  const events = await db.collection<EventDocument>(COLLECTIONS.events).find({}).toArray();
  const history = await db.collection<HistoryDocument>(COLLECTIONS.history).find({}).toArray();
  const leads = await db.collection<LeadDocument>(COLLECTIONS.leads).find({}).toArray();
  const byLead = new Map<string, EventDocument[]>();
  for (const event of events) byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), event]);
  const historyByLead = new Map<string, HistoryDocument[]>();
  for (const entry of history) historyByLead.set(entry.lead_id, [...(historyByLead.get(entry.lead_id) ?? []), entry]);
  if (history.length !== events.length) problems.push(`${events.length} events but ${history.length} entries`);
  for (const [leadId, stored] of byLead) {
    const lead = leads.find((doc) => doc._id === leadId);
    const entries = (historyByLead.get(leadId) ?? []).sort((a, b) => (a.sort_key < b.sort_key ? -1 : 1));
    const fold = foldScores(stored.map(toScorable), cap);
    if (!lead) {
      problems.push(`${leadId}: no lead`);
      continue;
    }
    const deltaSum = entries.reduce((sum, entry) => sum + entry.delta, 0);
    if (deltaSum !== lead.current_score) problems.push(`${leadId}: deltas sum ${deltaSum} ≠ ${lead.current_score}`);
    if ((entries.at(-1)?.score ?? 0) !== lead.current_score) problems.push(`${leadId}: last entry ≠ current_score`);
    if (entries.some((entry) => entry.score < 0 || entry.score > cap)) problems.push(`${leadId}: score out of range`);
    if (lead.current_score !== fold.score) problems.push(`${leadId}: score ${lead.current_score}, fold ${fold.score}`);
    if (lead.event_count !== fold.count)
      problems.push(`${leadId}: event_count ${lead.event_count}, fold ${fold.count}`);
    const got = JSON.stringify(entries.map(entryView));
    const want = JSON.stringify(fold.history.map(entryView));
    if (got !== want) problems.push(`${leadId}: history differs from the fold`);
  }
  return problems;
}
