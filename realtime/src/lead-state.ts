// Reads of the current state a socket gets when it connects (the leaderboard) and when it subscribes to a lead (a
// snapshot), so a dashboard that reconnects is up to date without waiting for the next change.
import {
  COLLECTIONS,
  type HistoryDocument,
  LEADERBOARD_INTERVAL_MS,
  LEADERBOARD_SIZE,
  type LeadDocument,
  type LeaderboardEntry,
  fetchLeaderboard as readLeaderboard,
  type ScoreUpdate,
} from "@leadscore/contracts";
import type { Db } from "mongodb";

export interface LeadState {
  /** The lead's score as of its newest scored event, or null when it has none yet. */
  snapshot(leadId: string): Promise<ScoreUpdate | null>;
  /** The current top leads; one query serves every socket connecting within the same leaderboard interval. */
  leaderboard(): Promise<LeaderboardEntry[]>;
}

export function createLeadState(db: Db): LeadState {
  const leads = db.collection<LeadDocument>(COLLECTIONS.leads);
  const history = db.collection<HistoryDocument>(COLLECTIONS.history);
  let cached: { at: number; top: Promise<LeaderboardEntry[]> } | undefined;

  return {
    async snapshot(leadId) {
      const [lead, newest] = await Promise.all([
        leads.findOne({ _id: leadId }, { projection: { current_score: 1, stage: 1 } }),
        history.findOne({ lead_id: leadId }, { sort: { sort_key: -1 } }),
      ]);
      if (!lead || !newest) return null;
      return {
        lead_id: leadId,
        current_score: lead.current_score,
        delta: newest.delta,
        stage: lead.stage,
        event_id: newest.event_id,
        event_type: newest.event_type,
        timestamp: newest.timestamp.toISOString(),
        snapshot: true,
      };
    },
    leaderboard() {
      const now = Date.now();
      if (cached && now - cached.at < LEADERBOARD_INTERVAL_MS) return cached.top;
      const top = fetchLeaderboard(db);
      cached = { at: now, top };
      // A failed read must not be served from the cache to the next sockets.
      top.catch(() => {
        if (cached?.top === top) cached = undefined;
      });
      return top;
    },
  };
}

/** The top leads in leaderboard order. */
export function fetchLeaderboard(db: Db, limit = LEADERBOARD_SIZE): Promise<LeaderboardEntry[]> {
  return readLeaderboard(db.collection<LeadDocument>(COLLECTIONS.leads), limit);
}
