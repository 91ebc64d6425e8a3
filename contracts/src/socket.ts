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
   * new change; a dashboard may receive the same `event_id` again this way. With decay its `current_score` and
   * `stage` are as of the instant it was sent, not as of `timestamp`.
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

/**
 * Sent to a merged lead's room when its history was folded into another lead (an identify, an admin merge): a
 * subscriber follows `into` from then on.
 */
export interface LeadMerged {
  lead_id: string;
  into: string;
}

export interface LeaderboardUpdate {
  top: LeaderboardEntry[];
}

export interface SubscribeRequest {
  lead_id: string;
}

/**
 * Subscribe/unsubscribe requests of one socket the server runs at once. A client (the dashboard) sends no more than
 * this many at a time, so that renewing a page of rooms never floods the server.
 */
export const SUBSCRIBES_IN_FLIGHT = 4;
/**
 * The server's answer to a request past those it runs and queues for one socket; the client sends that request again
 * a moment later.
 */
export const TOO_MANY_SUBSCRIBES_IN_FLIGHT = "too many subscribes in flight";

/** Answer to `subscribe`/`unsubscribe`; `error` says why a request was refused. */
export interface SubscribeAck {
  ok: boolean;
  error?: string;
}

/** Socket.io events the server sends. */
export interface ServerToClientEvents {
  score_update: (update: ScoreUpdate) => void;
  leaderboard: (update: LeaderboardUpdate) => void;
  lead_merged: (merged: LeadMerged) => void;
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
/**
 * Where the worker reports committed score changes (its commit script has already published each `score_update`),
 * so the coalesced `leaderboard` follows.
 */
export interface ScorePublisher {
  publish(updates: ScoreUpdate[]): void | Promise<void>;
  close?(): void | Promise<void>;
}

/**
 * Why a socket was refused: the `connect_error` message of a handshake without a valid read token (`auth: { token }`),
 * and the `subscribe` error of a socket whose token has since stopped being valid.
 */
export const READ_TOKEN_REQUIRED = "a valid read token is required";
