// Checks the live state against MongoDB, the ground truth: every lead's score, count and whole history must be the
// pure fold of its stored events, and the indexes must agree with the leads. Reads everything: for tests, the fault
// suite, load runs and operators (`npm run rebuild -- --check`), never for a hot path.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryPageDocument,
  type StageThresholds,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import { createLiveReader, type LiveEntry, rankKey, wholeHistory } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

export interface AuditOptions {
  db: Db;
  redis: Redis;
  redisPrefix: string;
  cap: number;
  thresholds: StageThresholds;
}

export interface AuditReport {
  leads: number;
  events: number;
  problems: string[];
}

/** The comparable part of a history entry. */
export function entryView(entry: Pick<LiveEntry, "event_id" | "points" | "delta" | "score" | "seq" | "rule_id">) {
  return {
    event_id: entry.event_id,
    points: entry.points,
    delta: entry.delta,
    score: entry.score,
    seq: entry.seq,
    rule_id: entry.rule_id,
  };
}

export function loadPagesFrom(db: Db) {
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  return (ids: string[]) => pages.find({ _id: { $in: ids } }).toArray();
}

export async function auditLiveState(options: AuditOptions): Promise<AuditReport> {
  const { db, redis, cap, thresholds } = options;
  const reader = createLiveReader({ redis, redisPrefix: options.redisPrefix, cap, thresholds });
  const problems: string[] = [];
  const byLead = new Map<string, EventDocument[]>();
  let events = 0;
  for await (const doc of db.collection<EventDocument>(COLLECTIONS.events).find({}, { projection: { metadata: 0 } })) {
    const list = byLead.get(doc.lead_id) ?? [];
    list.push(doc);
    byLead.set(doc.lead_id, list);
    events += 1;
  }
  const loadPages = loadPagesFrom(db);
  for (const [leadId, stored] of byLead) {
    const lead = await reader.leadWithTail(leadId);
    if (!lead) {
      problems.push(`${leadId}: no live state`);
      continue;
    }
    const fold = foldScores(stored.map(toScorable), cap);
    if (lead.score !== fold.score) problems.push(`${leadId}: score ${lead.score}, fold ${fold.score}`);
    if (lead.count !== fold.count) problems.push(`${leadId}: count ${lead.count}, fold ${fold.count}`);
    if (lead.stage !== stageFor(fold.score, thresholds)) problems.push(`${leadId}: stage ${lead.stage}`);
    const history = await wholeHistory(lead, loadPages, cap);
    if (JSON.stringify(history.map(entryView)) !== JSON.stringify(fold.history.map(entryView))) {
      problems.push(`${leadId}: history differs from the fold`);
    }
    const indexed = await redis.zscore(reader.keys.byScore, leadId);
    if (indexed === null || Number(indexed) !== rankKey(fold.score, fold.reachedAt, cap)) {
      problems.push(`${leadId}: leaderboard index ${indexed}, want ${rankKey(fold.score, fold.reachedAt, cap)}`);
    }
  }
  return { leads: byLead.size, events, problems };
}
