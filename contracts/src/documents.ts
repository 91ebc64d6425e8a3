// The MongoDB collections, their document shapes and the indexes every query relies on. The worker is the only
// writer of leads' scores, events and history; the edge reads them and writes leads' profiles and rules.
import type { ScorableEvent } from "./scoring.ts";
import type { Stage } from "./stage.ts";

/** MongoDB's error code for a write refused because its unique key (`_id` or a unique index) is taken. */
export const DUPLICATE_KEY = 11000;

export const COLLECTIONS = {
  leads: "leads",
  /** Distinct events, `_id` = `event_id`: the ground truth of idempotency. */
  events: "events",
  /** One entry per scored event, `_id` = `event_id`. */
  history: "score_history",
  rules: "rules",
} as const;

export interface LeadDocument {
  _id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  current_score: number;
  stage: Stage;
  event_count: number;
  /** Event time of the lead's newest event. */
  last_event_at: Date | null;
  /** Event time at which the lead's score last changed to its current value (leaderboard tie-break). */
  score_reached_at: Date | null;
  /** `sort_key` of the newest history entry folded into `current_score`. */
  last_sort_key: string | null;
  /** Optimistic-concurrency counter, bumped by every score write. */
  version: number;
  /**
   * Random id of the score write that set this `version`. A bulk write reports only how many compare-and-sets
   * matched, not which; reading this back tells a worker whether its own write is the one that won.
   */
  write_id?: string;
  created_at: Date;
  updated_at: Date;
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
  };
}

export interface HistoryDocument {
  _id: string;
  event_id: string;
  lead_id: string;
  event_type: string;
  timestamp: Date;
  received_at: Date;
  points: number;
  delta: number;
  score: number;
  reason: string;
  rule_id: string | null;
  sort_key: string;
  /** True when the event arrived after a newer event of the same lead had already been scored. */
  late: boolean;
  /**
   * 1-based position in the lead's history (the lead's `event_count` once this event is folded in). Written by the
   * worker on every entry; optional only for entries made by hand.
   */
  seq?: number;
  /** The lead's `score_reached_at` as of this entry, so a recomputation can resume from any entry. */
  score_reached_at?: Date | null;
}

export interface RuleDocument {
  _id: string;
  event_type: string;
  points: number;
  active: boolean;
  label: string;
  created_at: Date;
  updated_at: Date;
}

export interface IndexSpec {
  key: Record<string, 1 | -1>;
  name: string;
  unique?: boolean;
}

/** Every index the system's queries need; created idempotently at start-up by the worker and the edge. */
export const INDEXES: Record<(typeof COLLECTIONS)[keyof typeof COLLECTIONS], IndexSpec[]> = {
  leads: [
    { key: { current_score: -1, score_reached_at: 1, _id: 1 }, name: "leaderboard" },
    { key: { updated_at: -1, _id: 1 }, name: "recent" },
    { key: { stage: 1, current_score: -1, _id: 1 }, name: "stage_score" },
    { key: { company: 1, current_score: -1, _id: 1 }, name: "company_score" },
    { key: { email: 1 }, name: "email" },
  ],
  events: [{ key: { lead_id: 1, sort_key: 1 }, name: "lead_order" }],
  score_history: [{ key: { lead_id: 1, sort_key: 1 }, name: "lead_order" }],
  rules: [{ key: { event_type: 1 }, name: "event_type_unique", unique: true }],
};
