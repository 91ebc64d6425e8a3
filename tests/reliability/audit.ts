// What must hold after any run, faults or not: every acknowledged event is folded into its lead's live state exactly
// once, nothing the client was never told "yes" about is, and every lead — score, count, stage, leaderboard entry and
// whole history (settled pages in MongoDB, then the tail in Redis) — is the pure fold of its stored events.
import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS, type StageThresholds } from "@leadscore/contracts";
import { createLiveReader } from "@leadscore/live";
import { historyEntryCounts, readLiveState, snapshotProblems } from "@leadscore/live/audit";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

export interface AuditReport {
  /** History entries (one per folded event). */
  scored: number;
  storedEvents: number;
  /** Leads with live state. */
  leads: number;
  /** Acknowledged ids in no history. */
  lost: string[];
  /** Ids in more than one history entry. */
  duplicated: string[];
  /** Acknowledged ids with no stored event. */
  missingEvents: string[];
  /** Folded ids the client was never acknowledged for (refused, or never sent). */
  phantoms: string[];
  /** Broken per-lead invariants and differences from the fold, one line each. */
  problems: string[];
  /** Rule outcomes in the histories cut by a frequency limit, and by a group's max: the v2 paths the run reached. */
  cuts: { limit: number; group: number };
}

export interface AuditTarget {
  db: Db;
  redis: Redis;
  redisPrefix: string;
}

export async function auditScores(
  target: AuditTarget,
  acknowledged: ReadonlySet<string>,
  cap: number,
  thresholds: StageThresholds = DEFAULT_STAGE_THRESHOLDS,
  halfLifeSeconds: number | null = null,
): Promise<AuditReport> {
  const live = await readLiveState({ ...target, cap, thresholds });
  const { byEventId: entriesOf, total: scored } = historyEntryCounts(live);
  const storedIds = new Set<string>();
  for (const events of live.events.values()) for (const event of events) storedIds.add(event._id);
  const problems = snapshotProblems(live, cap, thresholds, halfLifeSeconds);
  const cuts = { limit: 0, group: 0 };
  for (const { history } of live.leads.values()) {
    for (const entry of history ?? []) {
      for (const rule of entry.rules) {
        if (rule.cuts.some((cut) => cut.startsWith("limit "))) cuts.limit += 1;
        if (rule.cuts.some((cut) => cut.startsWith("group "))) cuts.group += 1;
      }
    }
  }
  return {
    scored,
    storedEvents: live.storedEvents,
    leads: live.leads.size,
    lost: [...acknowledged].filter((id) => !entriesOf.has(id)),
    duplicated: [...entriesOf].filter(([, count]) => count > 1).map(([id]) => id),
    missingEvents: [...acknowledged].filter((id) => !storedIds.has(id)),
    phantoms: [...entriesOf.keys()].filter((id) => !acknowledged.has(id)),
    problems,
    cuts,
  };
}

/** Events folded into the live state, over every lead. */
export function foldedCount(redis: Redis, redisPrefix: string): Promise<number> {
  return createLiveReader({
    redis,
    redisPrefix,
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
  }).foldedEvents();
}
