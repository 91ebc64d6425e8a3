// The MongoDB collections, their document shapes and their indexes. MongoDB is the durable record, written
// append-only (events, history pages, profiles) and read only off the hot paths: a rebuild of the live state, history
// older than Redis keeps, profile search. Indexed on MongoDB; on FerretDB 1.x every one of those reads is a scan.
import {
  type CandidateWire,
  candidatesOfPlain,
  decodeCandidate,
  encodeCandidate,
  plainCandidates,
} from "./candidate-wire.ts";
import type { Candidate } from "./fold-v2.ts";
import type { ScorableEvent } from "./scoring.ts";

/** MongoDB's error code for a write refused because its unique key (`_id` or a unique index) is taken. */
export const DUPLICATE_KEY = 11000;

export const COLLECTIONS = {
  /** Lead profiles (name, email, company), inserted once; scores live in Redis. */
  leads: "leads",
  /** Profile edits, inserted (never updated): a lead's profile is the newest of its `leads` document and these. */
  profileEdits: "profile_edits",
  /** Distinct events, `_id` = `event_id`, with their points: the ground truth of idempotency and of every score. */
  events: "events",
  /** Settled history: pages of about PAGE_SIZE entries, inserted once, never updated (see live/src/codec.ts). */
  historyPages: "history_pages",
  /** The current version's rules, edited in place by the rules API; each write also stores the whole version. */
  rules: "rules",
  /** The current version's rule groups (`{ _id, label, max }`). */
  ruleGroups: "rule_groups",
  /** Every version of the rule set, `_id` = its version, stored whole when it is made and never changed after. */
  ruleSets: "rule_sets",
  /** The draft of the next rule set (one document, `_id: "draft"`); nothing live reads it. */
  ruleDrafts: "rule_drafts",
  /** Events the store refused (`_id` = `event_id`), kept with the reason instead of being scored. */
  deadLetters: "dead_letters",
  /** Merged ids (`_id`), each with the lead it was merged into: the durable identity map (identity.ts). */
  identities: "identities",
  /**
   * Merges between lead partitions, one document per pair of leads whichever way (`_id` = `mergePairId`), inserted
   * before the merge is recorded: of two opposite merges of the same two leads the one stored first wins.
   */
  mergePairs: "merge_pairs",
  /** Facts about the deployment itself, one document each by `_id` (e.g. that the default rules were seeded). */
  meta: "meta",
  /**
   * The worker's batch journal: one small entry per batch (its id, time and run of Redis), inserted before its events,
   * kept a few minutes; after a Redis restart the batches not marked done in Redis are caught up (worker/src/journal.ts).
   */
  batchJournal: "batch_journal",
  /**
   * Each journal entry's event ids and their leads, under the entry's `_id`, inserted with it: read by `_id` for the
   * entries a catch-up finds unfinished only, so the journal's scan reads no ids.
   */
  batchJournalIds: "batch_journal_ids",
  /**
   * What each event of a lead may earn under a version a retroactive publish re-scored it with, one document per
   * (version, lead), `_id` = `rescoredCandidatesId` (rescore.ts): read by `_id` only, inserted once.
   */
  rescoredCandidates: "rescored_candidates",
  /**
   * Each retroactive re-score that moved a lead (its score or its stage), one document per (version, lead), `_id` =
   * `rescoreLogId` (rescore.ts), inserted once its commit returned: what a rebuild lays the lead's re-score log out
   * from again. Read by `_id` only.
   */
  rescoreLog: "rescore_log",
} as const;

/** A lead's profile as MongoDB keeps it; everything about its score is live state in Redis. */
export interface LeadDocument {
  _id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  created_at: Date;
}

/** One edit of a lead's profile: the whole profile after the edit, and when it was made. */
export interface ProfileEditDocument {
  _id: string;
  lead_id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  at: Date;
}

export interface EventDocument {
  _id: string;
  lead_id: string;
  event_type: string;
  timestamp: Date;
  received_at: Date;
  metadata: Record<string, unknown>;
  /** Points fixed when the event was first stored; never changed afterwards. */
  points: number;
  rule_id: string | null;
  sort_key: string;
  /**
   * Scoring model v2: the rules the event matched when first scored, with what each may give (`points` is their sum,
   * `rule_id` the first), as one JSON text of `CandidateWire`s (`storedCandidates`); absent when `points` and
   * `rule_id` say them all (no rule, or one without limit or group) — and on an event stored before v2, which has no
   * `rules_version` either and folds as one candidate `{ rule_id, points }`. Events stored by the first v2 versions
   * hold them as `Candidate` objects, read alike (`toScorable`).
   */
  candidates?: string | Candidate[];
  /** The rule-set version the candidates come from. */
  rules_version?: number;
}

/** An event's candidates as `EventDocument` stores them: nothing when its v1 fields say them all, else a JSON text. */
export function storedCandidates(
  event: { rule_id: string | null; points: number },
  candidates: readonly Candidate[],
): string | undefined {
  return plainCandidates(event, candidates) ? undefined : JSON.stringify(candidates.map(encodeCandidate));
}

/** The candidates of a stored v2 event (`rules_version` set), whichever form they were stored in. */
function candidatesOf(doc: Pick<EventDocument, "candidates" | "points" | "rule_id">): Candidate[] {
  const { candidates } = doc;
  if (candidates === undefined) return candidatesOfPlain({ rule_id: doc.rule_id ?? null, points: doc.points });
  if (typeof candidates !== "string") return candidates;
  return (JSON.parse(candidates) as CandidateWire[]).map(decodeCandidate);
}

/** A stored event as the fold takes it (its points and rule as fixed when it was first stored). */
export function toScorable(doc: Omit<EventDocument, "metadata">): ScorableEvent {
  return {
    event_id: doc._id,
    lead_id: doc.lead_id,
    event_type: doc.event_type,
    timestamp: new Date(doc.timestamp).getTime(),
    received_at: new Date(doc.received_at).getTime(),
    points: doc.points,
    rule_id: doc.rule_id ?? null,
    ...((doc.candidates !== undefined || doc.rules_version !== undefined) && {
      candidates: candidatesOf(doc),
      rules_version: doc.rules_version ?? null,
    }),
  };
}

/**
 * A page of a lead's settled history: `n` is the number of the lead's entries before it when it was written. A page
 * is never updated: when a late event changes settled entries, the pages it changes are written anew under new ids
 * and the live state points at those (its `pg` list, live/src/codec.ts, which also places each page: the positions
 * and `score_reached_at` of its entries follow from the pages before it); the pages no live state points at are left
 * behind.
 */
export interface HistoryPageDocument {
  _id: string;
  lead_id: string;
  /**
   * Entries of the lead before the page when it was written. A page kept while a late event grew one before it keeps
   * its id and this `n`: its place now follows from the lead's page list.
   */
  n: number;
  /**
   * The page's entries, oldest first, as one JSON array of page entries (`encodePage` in live/src/codec.ts): one
   * string rather than nested arrays, which FerretDB 1.x cannot store.
   */
  entries: string;
  /**
   * Scoring model v2: the fold's limit counters and group totals just before the page (`encodeTally`,
   * live/src/fold.ts), so a late event refolds from this page without the ones before it; absent when empty.
   */
  tally?: string;
  written_at: Date;
}

/**
 * An event the store refused to insert (a store limit, or a value the edge's validation let through): kept here,
 * not scored, so the other events of its job are. `event` is the queued event as JSON text, a form every store
 * accepts whatever the event holds.
 */
export interface DeadLetterDocument {
  _id: string;
  lead_id: string;
  event_type: string;
  /** What the store answered. */
  reason: string;
  /** The `QueuedEvent` as JSON. */
  event: string;
  at: Date;
}

/**
 * One batch in the worker's journal: inserted before the batch's events, so every stored event is in one. Its ids are
 * in `batch_journal_ids` under the same `_id`; entries written before that kept them here.
 */
export interface BatchJournalDocument {
  /** Random, one per try of a batch. */
  _id: string;
  /** When it was inserted: entries older than the journal's retention are swept. */
  at: Date;
  /**
   * The batch's event ids as one text, separated by spaces (outside the ids' alphabet); an array in entries written
   * before. One text because FerretDB stores an array element by element: a journal sweep's scan of array entries
   * cost ~27× that of text ones, an entry's insert ~2.5×. Absent from entries whose ids are in `batch_journal_ids`.
   */
  events?: string | string[];
  /** Each event's lead, in the same order and form: a catch-up looks in the lead's tail before reading the stored copy. */
  leads?: string | string[];
  /** The `run_id` of the Redis the batch began on, as its worker last saw it (absent before it had seen one). */
  run?: string;
}

/** A journal entry's ids (`batch_journal_ids`), `_id` = the entry's: inserted with the entry, before the events. */
export interface BatchJournalIdsDocument {
  _id: string;
  /** The entry's time: swept with it. */
  at: Date;
  /** The batch's event ids as one text, separated by spaces. */
  events: string;
  /** Each event's lead, in the same order and form. */
  leads: string;
}

export interface RuleDocument {
  _id: string;
  event_type: string;
  points: number;
  active: boolean;
  label: string;
  /** Scoring model v2: a condition tree, stored as JSON text (a tree may nest arrays, which FerretDB 1.x refuses). */
  where?: string;
  limit?: { max: number; per: string; key?: string };
  group?: string;
  created_at: Date;
  updated_at: Date;
}

export interface RuleGroupDocument {
  _id: string;
  label: string;
  max: number;
  created_at: Date;
  updated_at: Date;
}

/** One version of the rule set, stored whole when it is made: `set` is the `RuleSet` as JSON text. */
export interface RuleSetDocument {
  _id: number;
  set: string;
  /** Who made it (`admin`, `seed`, …) and when. */
  by: string;
  at: Date;
  /** How it was made: absent for a write of the rules API, `draft` for a published draft, `version` for an earlier
   * version published again (`restores` names it). */
  source?: "draft" | "version";
  restores?: number;
  /** How a publish applied it: to new events only, or to every lead's history too; and its webhooks then. */
  mode?: "forward" | "retroactive";
  webhooks?: "suppress" | "send";
}

/** The one draft of the rule set (`_id: "draft"`): edited freely, changing nothing live until it is published. */
export interface RuleDraftDocument {
  _id: "draft";
  /** `{ rules, groups, half_life_seconds? }` as JSON text. */
  set: string;
  /** The version it was copied from. */
  based_on: number;
  by: string;
  created_at: Date;
  updated_at: Date;
}

/** `_id` of the `meta` document holding the version of the rule set in force (`value`). */
export const RULES_VERSION = "rules_version";

/** The `meta` document that points at the rule set in force. */
export interface RulesVersionDocument {
  _id: typeof RULES_VERSION;
  value: number;
  at: Date;
}

/** A fact about the deployment: `_id` names it, `at` is when it became true. */
export interface MetaDocument {
  _id: string;
  at: Date;
}

export interface IndexSpec {
  key: Record<string, 1 | -1>;
  name: string;
  unique?: boolean;
}

/** Every index the system's queries need; `createMissingIndexes` (indexes.ts) creates them at start-up. */
export const INDEXES: Record<(typeof COLLECTIONS)[keyof typeof COLLECTIONS], IndexSpec[]> = {
  leads: [
    { key: { company: 1 }, name: "company" },
    { key: { email: 1 }, name: "email" },
  ],
  profile_edits: [{ key: { lead_id: 1 }, name: "lead" }],
  events: [{ key: { lead_id: 1, sort_key: 1 }, name: "lead_order" }],
  history_pages: [{ key: { lead_id: 1, n: 1 }, name: "lead_page" }],
  // Several rules may score one event type (scoring model v2): the rules API refuses only a second rule of a type
  // without `where`, under its write lock. The unique index earlier versions made is dropped (RETIRED_INDEXES).
  rules: [],
  rule_groups: [],
  rule_sets: [],
  rule_drafts: [],
  dead_letters: [{ key: { at: -1 }, name: "newest" }],
  // Read by `_id` (a replayed merge) and whole (a rebuild).
  identities: [],
  // Read by `_id` only (a merge that lost its pair).
  merge_pairs: [],
  // Read by `_id` only.
  meta: [],
  // Read whole (a few minutes of batches) after a Redis restart; swept by `at`, a scan of that much.
  batch_journal: [],
  // Read by `_id` (the entries a catch-up finds unfinished); swept by `at`, a scan of a few minutes of ids.
  batch_journal_ids: [],
  // Read by `_id` (a rescan, a rebuild) and whole (the audit).
  rescored_candidates: [],
  // Read by `_id` only (a rebuild).
  rescore_log: [],
};
