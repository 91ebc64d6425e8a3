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

/** Socket.io events the server sends. */
export interface ServerToClientEvents {
  score_update: (update: ScoreUpdate) => void;
  leaderboard: (update: LeaderboardUpdate) => void;
}

/** Socket.io events a client sends. */
export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack?: (result: { ok: boolean; error?: string }) => void) => void;
  unsubscribe: (request: SubscribeRequest, ack?: (result: { ok: boolean; error?: string }) => void) => void;
}

export const LEADERBOARD_ROOM = "leaderboard";
export function leadRoom(leadId: string): string {
  return `lead:${leadId}`;
}

/** Where the worker hands committed score changes (after they are in MongoDB) for delivery to dashboards. */
export interface ScorePublisher {
  publish(updates: ScoreUpdate[]): void | Promise<void>;
  close?(): void | Promise<void>;
}
