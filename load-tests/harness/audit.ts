// The correctness audit after a run has drained: every event the edge accepted is scored exactly once, nothing it
// refused is, retries were not double counted, and a sample of leads recomputes from its stored events with the
// same pure fold the worker uses.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryDocument,
  type LeadDocument,
  toScorable,
} from "@leadscore/contracts";
import type { Db } from "mongodb";
import { leadIdFor, runIdRange } from "../src/payloads.ts";
import type { Random } from "../src/random.ts";
import type { Ledger } from "./ledger.ts";

export interface AuditCheck {
  name: string;
  pass: boolean;
  detail: string;
}

export interface AuditCounts {
  /** Event ids the edge took, which must each be in score_history once. */
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
}

export interface AuditResult {
  status: "PASS" | "FAIL" | "SKIPPED";
  note?: string;
  checks: AuditCheck[];
  counts?: AuditCounts;
  sampledLeads?: string[];
}

export interface AuditOptions {
  db: Db;
  runId: string;
  ledger: Ledger;
  scoreCap: number;
  /** Leads recomputed with foldScores: the hottest five plus random others. */
  sampleSize: number;
  random: Random;
}

interface LeadTally {
  count: number;
  deltaSum: number;
  lastSortKey: string;
  lastScore: number;
  outOfRange: number;
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

/** Recomputes one lead from its stored events and returns what differs from its history and lead document. */
async function recomputeLead(db: Db, leadId: string, scoreCap: number): Promise<string | null> {
  const [events, history, lead] = await Promise.all([
    db.collection<EventDocument>(COLLECTIONS.events).find({ lead_id: leadId }).toArray(),
    db.collection<HistoryDocument>(COLLECTIONS.history).find({ lead_id: leadId }).sort({ sort_key: 1 }).toArray(),
    db.collection<LeadDocument>(COLLECTIONS.leads).findOne({ _id: leadId }),
  ]);
  const folded = foldScores(events.map(toScorable), scoreCap);
  if (folded.history.length !== history.length) {
    return `${leadId}: ${events.length} stored events fold to ${folded.history.length} entries, history has ${history.length}`;
  }
  for (let i = 0; i < history.length; i++) {
    const want = folded.history[i];
    const got = history[i];
    if (!want || !got) continue;
    if (
      want.event_id !== got.event_id ||
      want.points !== got.points ||
      want.delta !== got.delta ||
      want.score !== got.score ||
      (got.seq !== undefined && want.seq !== got.seq)
    ) {
      return (
        `${leadId} entry ${i}: fold gives ${want.event_id} points ${want.points} delta ${want.delta} score ${want.score} ` +
        `seq ${want.seq}, history has ${got.event_id} points ${got.points} delta ${got.delta} score ${got.score} seq ${got.seq}`
      );
    }
  }
  if (!lead) return `${leadId}: no lead document`;
  if (lead.current_score !== folded.score) {
    return `${leadId}: fold gives ${folded.score}, current_score is ${lead.current_score}`;
  }
  const reachedAt = lead.score_reached_at ? new Date(lead.score_reached_at).getTime() : null;
  if (reachedAt !== folded.reachedAt) {
    return `${leadId}: fold gives score_reached_at ${folded.reachedAt}, lead has ${reachedAt}`;
  }
  return null;
}

export async function auditRun(options: AuditOptions): Promise<AuditResult> {
  const { db, runId, ledger, scoreCap } = options;
  const range = runIdRange(runId);
  const leadRange = { $gte: range.gte, $lt: range.lt };

  // One pass over the run's history, keeping only what the checks need.
  const historyIds = new Set<string>();
  const idMismatches: string[] = [];
  const perLead = new Map<string, LeadTally>();
  const cursor = db
    .collection<HistoryDocument>(COLLECTIONS.history)
    .find({ lead_id: leadRange }, { projection: { _id: 1, event_id: 1, lead_id: 1, delta: 1, score: 1, sort_key: 1 } });
  for await (const doc of cursor) {
    historyIds.add(doc._id);
    if (doc.event_id !== doc._id) idMismatches.push(doc._id);
    let tally = perLead.get(doc.lead_id);
    if (!tally) {
      tally = { count: 0, deltaSum: 0, lastSortKey: "", lastScore: 0, outOfRange: 0 };
      perLead.set(doc.lead_id, tally);
    }
    tally.count += 1;
    tally.deltaSum += doc.delta;
    if (doc.sort_key > tally.lastSortKey) {
      tally.lastSortKey = doc.sort_key;
      tally.lastScore = doc.score;
    }
    if (doc.score < 0 || doc.score > scoreCap) tally.outOfRange += 1;
  }

  const missing: string[] = [];
  const leaked: string[] = [];
  const acceptedTwice: string[] = [];
  const counts: AuditCounts = {
    expectedPresent: 0,
    expectedAbsent: 0,
    unknown: 0,
    unknownScored: 0,
    historyEntries: historyIds.size,
    storedEvents: 0,
    leads: 0,
    duplicatesAnswered: 0,
  };
  const duplicateNotOnce: string[] = [];
  for (const entry of ledger.entries()) {
    const scored = historyIds.has(entry.eventId);
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
  const phantoms = [...historyIds].filter((id) => ledger.get(id) === undefined);

  counts.storedEvents = await db.collection(COLLECTIONS.events).countDocuments({ lead_id: leadRange });
  const leadDocs = await db
    .collection<LeadDocument>(COLLECTIONS.leads)
    .find({ _id: leadRange }, { projection: { _id: 1, current_score: 1, event_count: 1 } })
    .toArray();
  counts.leads = leadDocs.length;

  const doubleCounted: string[] = [...duplicateNotOnce];
  if (counts.storedEvents !== historyIds.size) {
    doubleCounted.push(`events collection holds ${counts.storedEvents}, history ${historyIds.size}`);
  }
  const invariantFailures: string[] = [];
  const leadsById = new Map(leadDocs.map((lead) => [lead._id, lead]));
  for (const [leadId, tally] of perLead) {
    const lead = leadsById.get(leadId);
    if (!lead) {
      invariantFailures.push(`${leadId}: history but no lead document`);
      continue;
    }
    if (tally.deltaSum !== lead.current_score) {
      invariantFailures.push(`${leadId}: deltas sum to ${tally.deltaSum}, current_score ${lead.current_score}`);
    }
    if (tally.lastScore !== lead.current_score) {
      invariantFailures.push(`${leadId}: last entry ${tally.lastScore}, current_score ${lead.current_score}`);
    }
    if (tally.outOfRange > 0) invariantFailures.push(`${leadId}: ${tally.outOfRange} scores outside [0, ${scoreCap}]`);
    if (typeof lead.event_count === "number" && lead.event_count !== tally.count) {
      doubleCounted.push(`${leadId}: event_count ${lead.event_count}, ${tally.count} history entries`);
    }
  }
  for (const lead of leadDocs) {
    if (!perLead.has(lead._id)) invariantFailures.push(`${lead._id}: lead document without history`);
  }

  // The hottest leads (long, late-heavy histories) plus a random spread of the rest.
  const scoredLeads = [...perLead.keys()];
  const sample: string[] = [];
  for (let rank = 0; rank < 5 && sample.length < options.sampleSize; rank++) {
    const id = leadIdFor(runId, rank);
    if (perLead.has(id)) sample.push(id);
  }
  const rest = scoredLeads.filter((id) => !sample.includes(id));
  while (sample.length < options.sampleSize && rest.length > 0) {
    const index = Math.floor(options.random() * rest.length);
    sample.push(rest.splice(index, 1)[0] as string);
  }
  const foldFailures: string[] = [];
  for (const leadId of sample) {
    const problem = await recomputeLead(db, leadId, scoreCap);
    if (problem) foldFailures.push(problem);
  }

  const checks: AuditCheck[] = [
    check(
      "every accepted event is scored exactly once",
      [...missing, ...idMismatches],
      `${counts.expectedPresent} accepted ids, each in score_history once`,
      `${missing.length} of ${counts.expectedPresent} accepted ids missing from score_history, ${idMismatches.length} entries whose event_id differs from _id`,
    ),
    check(
      "no refused event is scored",
      leaked,
      `${counts.expectedAbsent} refused ids, none in score_history`,
      `${leaked.length} of ${counts.expectedAbsent} refused ids are in score_history`,
    ),
    check(
      "nothing the run did not send is scored",
      phantoms,
      `${historyIds.size} history entries, all sent by this run`,
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
      `${counts.duplicatesAnswered} ids answered "duplicate", each scored once; ${counts.storedEvents} stored events = ${historyIds.size} history entries; event_count matches history for ${perLead.size} leads`,
      `${doubleCounted.length} double-count symptoms`,
    ),
    check(
      "history invariants hold for every lead",
      invariantFailures,
      `${perLead.size} leads: deltas sum to current_score, last entry equals current_score, scores within [0, ${scoreCap}]`,
      `${invariantFailures.length} violations`,
    ),
    check(
      "sampled leads recompute from their stored events",
      foldFailures,
      `${sample.length} leads refolded with foldScores: history and current_score match`,
      `${foldFailures.length} of ${sample.length} sampled leads differ`,
    ),
  ];
  return {
    status: checks.every((c) => c.pass) ? "PASS" : "FAIL",
    checks,
    counts,
    sampledLeads: sample,
  };
}
