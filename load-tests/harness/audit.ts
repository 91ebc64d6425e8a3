// The correctness audit after a run has drained: every event the edge accepted is folded into its lead's live state
// exactly once, nothing it refused is, retries were not double counted, and every lead of the run — its score, count,
// stage, leaderboard entry and whole history (settled pages in MongoDB, then the tail in Redis) — is the pure fold of
// its stored events, the same fold the worker uses.
import { DEFAULT_STAGE_THRESHOLDS, type StageThresholds } from "@leadscore/contracts";
import { historyEntryCounts, MAX_PAGE_RATIO, readLiveState, snapshotProblems } from "@leadscore/live/audit";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { runIdRange } from "../src/payloads.ts";
import type { Ledger } from "./ledger.ts";

export interface AuditCheck {
  name: string;
  pass: boolean;
  detail: string;
}

export interface AuditCounts {
  /** Event ids the edge took, which must each be in their lead's history once. */
  expectedPresent: number;
  /** Event ids refused, which must not be there. */
  expectedAbsent: number;
  /** Event ids whose every request failed or was only answered "duplicate": either way is fine. */
  unknown: number;
  unknownScored: number;
  historyEntries: number;
  storedEvents: number;
  leads: number;
  /** Ids sent more than once and answered "duplicate" at least once. */
  duplicatesAnswered: number;
  /** History pages of the run's leads: stored, named by the live state, retired awaiting deletion. */
  pages?: { stored: number; referenced: number; retired: number };
}

export interface AuditResult {
  status: "PASS" | "FAIL" | "SKIPPED";
  note?: string;
  checks: AuditCheck[];
  counts?: AuditCounts;
}

export interface AuditOptions {
  db: Db;
  /** The Redis holding the live state, and its key prefix. */
  redis: Redis;
  redisPrefix: string;
  runId: string;
  ledger: Ledger;
  scoreCap: number;
  thresholds?: StageThresholds;
}

const EXAMPLES = 5;

function examples(ids: string[]): string {
  return ids.length === 0 ? "" : ` (e.g. ${ids.slice(0, EXAMPLES).join(", ")})`;
}

function check(name: string, failures: string[], passDetail: string, failDetail: string): AuditCheck {
  return failures.length === 0
    ? { name, pass: true, detail: passDetail }
    : { name, pass: false, detail: `${failDetail}${examples(failures)}` };
}

export async function auditRun(options: AuditOptions): Promise<AuditResult> {
  const { db, runId, ledger, scoreCap } = options;
  const thresholds = options.thresholds ?? DEFAULT_STAGE_THRESHOLDS;
  const live = await readLiveState({
    db,
    redis: options.redis,
    redisPrefix: options.redisPrefix,
    cap: scoreCap,
    thresholds,
    leadIds: runIdRange(runId),
  });

  // How many times each event id is in a history of the run.
  const { byEventId: entriesOf, total: historyEntries } = historyEntryCounts(live);
  const inHistoryTwice = [...entriesOf].filter(([, count]) => count > 1).map(([id]) => id);

  const missing: string[] = [];
  const leaked: string[] = [];
  const acceptedTwice: string[] = [];
  const counts: AuditCounts = {
    expectedPresent: 0,
    expectedAbsent: 0,
    unknown: 0,
    unknownScored: 0,
    historyEntries,
    storedEvents: live.storedEvents,
    leads: live.leads.size,
    duplicatesAnswered: 0,
  };
  const duplicateNotOnce: string[] = [];
  for (const entry of ledger.entries()) {
    const scored = entriesOf.has(entry.eventId);
    if (entry.acceptedTwice) acceptedTwice.push(entry.eventId);
    if (entry.answeredDuplicate) {
      counts.duplicatesAnswered += 1;
      if (entry.expectation === "present" && !scored) duplicateNotOnce.push(entry.eventId);
    }
    switch (entry.expectation) {
      case "present":
        counts.expectedPresent += 1;
        if (!scored) missing.push(entry.eventId);
        break;
      case "absent":
        counts.expectedAbsent += 1;
        if (scored) leaked.push(entry.eventId);
        break;
      case "unknown":
        counts.unknown += 1;
        if (scored) counts.unknownScored += 1;
        break;
    }
  }
  const phantoms = [...entriesOf.keys()].filter((id) => ledger.get(id) === undefined);

  const doubleCounted: string[] = [...duplicateNotOnce, ...inHistoryTwice];
  if (live.storedEvents !== historyEntries) {
    doubleCounted.push(`events collection holds ${live.storedEvents}, histories ${historyEntries} entries`);
  }
  for (const [leadId, { lead, history }] of live.leads) {
    if (history && lead.count !== history.length) {
      doubleCounted.push(`${leadId}: count ${lead.count}, ${history.length} history entries`);
    }
  }
  const foldFailures = snapshotProblems(live, scoreCap, thresholds);
  // As the live audit judges them (pageProblems): every stored page counts, retired ones too.
  const pages = live.pages ?? { stored: 0, referenced: 0, retired: 0 };
  const pageRatio =
    pages.referenced === 0 ? (pages.stored === 0 ? 1 : Number.POSITIVE_INFINITY) : pages.stored / pages.referenced;
  const pageDetail = `${pages.stored} history pages stored (${pages.retired} retired awaiting deletion), ${pages.referenced} named by the live state: ${pageRatio.toFixed(3)}×`;

  const checks: AuditCheck[] = [
    check(
      "every accepted event is scored exactly once",
      missing,
      `${counts.expectedPresent} accepted ids, each in its lead's history`,
      `${missing.length} of ${counts.expectedPresent} accepted ids missing from the histories`,
    ),
    check(
      "no refused event is scored",
      leaked,
      `${counts.expectedAbsent} refused ids, none in a history`,
      `${leaked.length} of ${counts.expectedAbsent} refused ids are in a history`,
    ),
    check(
      "nothing the run did not send is scored",
      phantoms,
      `${historyEntries} history entries, all sent by this run`,
      `${phantoms.length} history entries with ids this run never sent`,
    ),
    check(
      "the edge never accepts one id twice",
      acceptedTwice,
      "every resent id was answered as a duplicate",
      `${acceptedTwice.length} ids answered 202 more than once`,
    ),
    check(
      "duplicates are not double counted",
      doubleCounted,
      `${counts.duplicatesAnswered} ids answered "duplicate", each scored once; ${live.storedEvents} stored events = ${historyEntries} history entries; every lead's count = its history's length`,
      `${doubleCounted.length} double-count symptoms`,
    ),
    check(
      "every lead's live state is the fold of its stored events",
      foldFailures,
      `${live.leads.size} leads refolded from their stored events: score, count, stage, leaderboard entry and whole history match; deltas sum to the score, scores within [0, ${scoreCap}]`,
      `${foldFailures.length} differences`,
    ),
    check(
      `stored history pages are at most ${MAX_PAGE_RATIO}× those the live state names`,
      pageRatio <= MAX_PAGE_RATIO ? [] : [pageDetail],
      pageDetail,
      `more than ${MAX_PAGE_RATIO}×`,
    ),
  ];
  counts.pages = pages;
  return { status: checks.every((c) => c.pass) ? "PASS" : "FAIL", checks, counts };
}
