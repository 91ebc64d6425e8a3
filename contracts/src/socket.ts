import type { LeadDocument } from "./documents.ts";
import type { Stage } from "./stage.ts";

export interface ScoreUpdate {
  lead_id: string;
  current_score: number;
  delta: number;
  stage: Stage;
  event_id: string;
  event_type: string;
  /** Event time, ISO-8601. */
  timestamp: string;
  /**
   * True when sent in answer to `subscribe` as the lead's current state (its newest scored event) rather than for a
   * new change; a dashboard may receive the same `event_id` again this way.
   */
  snapshot?: boolean;
}

export interface LeaderboardEntry {
  _id: string;
  name: string | null;
  company: string | null;
  current_score: number;
  stage: Stage;
}

export interface LeaderboardUpdate {
  top: LeaderboardEntry[];
}

export interface SubscribeRequest {
  lead_id: string;
}

/** Answer to `subscribe`/`unsubscribe`; `error` says why a request was refused. */
export interface SubscribeAck {
  ok: boolean;
  error?: string;
}

/** Socket.io events the server sends. */
export interface ServerToClientEvents {
  score_update: (update: ScoreUpdate) => void;
  leaderboard: (update: LeaderboardUpdate) => void;
}

/** Socket.io events a client sends. */
export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack?: (result: SubscribeAck) => void) => void;
  unsubscribe: (request: SubscribeRequest, ack?: (result: SubscribeAck) => void) => void;
}

/** Every socket joins this room on connect; it receives only the coalesced `leaderboard` event. */
export const LEADERBOARD_ROOM = "leaderboard";
/** Sockets that sent `subscribe { lead_id }`; they receive every `score_update` of that lead. */
export function leadRoom(leadId: string): string {
  return `lead:${leadId}`;
}

/**
 * Prefix of the Redis pub/sub channels through which the worker's emitter reaches every realtime instance's adapter;
 * both sides must use the same value.
 */
export function realtimeChannelKey(redisPrefix: string): string {
  return `${redisPrefix}:socket.io`;
}

/** Leads in a `leaderboard` update. */
export const LEADERBOARD_SIZE = 10;
/** Smallest gap between two `leaderboard` emits, across every publisher: at most 4 a second. */
export const LEADERBOARD_INTERVAL_MS = 250;
/** Leaderboard order (the `leaderboard` index of `leads`): highest score, then who reached it first, then id. */
export const LEADERBOARD_SORT = { current_score: -1, score_reached_at: 1, _id: 1 } as const;
export const LEADERBOARD_PROJECTION = { _id: 1, name: 1, company: 1, current_score: 1, stage: 1 } as const;

/** The part of the `leads` collection the leaderboard read uses (contracts does not depend on the driver). */
export interface LeadsFinder {
  find(
    filter: Record<string, never>,
    options: { sort: Record<string, 1 | -1>; projection: Record<string, 1>; limit: number },
  ): { toArray(): Promise<Partial<LeadDocument>[]> };
}

/** The top leads in leaderboard order (the `leaderboard` index of `leads`), as sockets receive them. */
export async function fetchLeaderboard(leads: LeadsFinder, limit: number): Promise<LeaderboardEntry[]> {
  const docs = await leads
    .find({}, { sort: { ...LEADERBOARD_SORT }, projection: LEADERBOARD_PROJECTION, limit })
    .toArray();
  return docs.map((doc) => ({
    _id: doc._id ?? "",
    name: doc.name ?? null,
    company: doc.company ?? null,
    current_score: doc.current_score ?? 0,
    stage: doc.stage ?? "cold",
  }));
}

/** Where the worker hands committed score changes (after they are in MongoDB) for delivery to dashboards. */
export interface ScorePublisher {
  publish(updates: ScoreUpdate[]): void | Promise<void>;
  close?(): void | Promise<void>;
}
