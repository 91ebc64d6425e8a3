// Reads of the current state a socket gets when it connects (the leaderboard) and when it subscribes to a lead (a
// snapshot), so a dashboard that reconnects is up to date without waiting for the next change. Both come from the
// live state in Redis: a hash read per subscribe, a range read per leaderboard interval — never a MongoDB query.
import {
  LEADERBOARD_INTERVAL_MS,
  LEADERBOARD_SIZE,
  type LeaderboardEntry,
  type ScoreUpdate,
} from "@leadscore/contracts";
import type { LiveReader } from "@leadscore/live";

export interface LeadState {
  /** The lead's score as of its newest scored event, or null when it has none yet. */
  snapshot(leadId: string): Promise<ScoreUpdate | null>;
  /** The current top leads; one read serves every socket connecting within the same leaderboard interval. */
  leaderboard(): Promise<LeaderboardEntry[]>;
}

export function createLeadState(live: Pick<LiveReader, "snapshot" | "leaderboardEntries">): LeadState {
  let cached: { at: number; top: Promise<LeaderboardEntry[]> } | undefined;

  return {
    snapshot: (leadId) => live.snapshot(leadId),
    leaderboard() {
      const now = Date.now();
      if (cached && now - cached.at < LEADERBOARD_INTERVAL_MS) return cached.top;
      const top = live.leaderboardEntries(LEADERBOARD_SIZE);
      cached = { at: now, top };
      // A failed read must not be served from the cache to the next sockets.
      top.catch(() => {
        if (cached?.top === top) cached = undefined;
      });
      return top;
    },
  };
}
