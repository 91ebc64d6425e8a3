// The top leads, live: the server's `leaderboard` broadcasts replace the list; each entry remembers how many
// places it moved so the view can show it.
import type { LeaderboardEntry } from "@leadscore/contracts";
import { batch, type ReadonlySignal, signal } from "@preact/signals";
import type { Api } from "../lib/api.ts";
import type { Realtime } from "../lib/realtime.ts";

export const LEADERBOARD_LIMIT = 10;

export interface RankedEntry extends LeaderboardEntry {
  rank: number;
  /** Places gained (positive) or lost (negative) since the previous list; null for a newcomer. */
  movement: number | null;
}

/**
 * Orders entries as the leaderboard does — highest score first; the server's order (who reached the score first)
 * breaks ties — and ranks them against the previous list.
 */
export function rankEntries(
  entries: readonly LeaderboardEntry[],
  previous: readonly RankedEntry[],
  limit = LEADERBOARD_LIMIT,
): RankedEntry[] {
  const before = new Map(previous.map((entry) => [entry._id, entry.rank]));
  return entries
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => b.entry.current_score - a.entry.current_score || a.index - b.index)
    .slice(0, limit)
    .map(({ entry }, index) => {
      const rank = index + 1;
      const was = before.get(entry._id);
      return { ...entry, rank, movement: previous.length === 0 ? 0 : was === undefined ? null : was - rank };
    });
}

export interface LeaderboardModel {
  readonly entries: ReadonlySignal<RankedEntry[]>;
  readonly status: ReadonlySignal<"loading" | "ready" | "error">;
  readonly error: ReadonlySignal<string | null>;
  readonly updatedAt: ReadonlySignal<number | null>;
  apply(entries: readonly LeaderboardEntry[]): void;
  reload(): Promise<void>;
  activate(): () => void;
}

export function createLeaderboardModel(deps: {
  api: Pick<Api, "leaderboard">;
  realtime: Realtime;
  limit?: number;
  announce?: (text: string) => void;
  now?: () => number;
}): LeaderboardModel {
  const limit = deps.limit ?? LEADERBOARD_LIMIT;
  const now = deps.now ?? Date.now;
  const entries = signal<RankedEntry[]>([], { name: "leaderboard.entries" });
  const status = signal<"loading" | "ready" | "error">("loading", { name: "leaderboard.status" });
  const error = signal<string | null>(null, { name: "leaderboard.error" });
  const updatedAt = signal<number | null>(null, { name: "leaderboard.updatedAt" });
  /** Counts broadcasts, so one that arrives while a read is in flight wins over that (older) read. */
  let broadcasts = 0;

  function apply(list: readonly LeaderboardEntry[]) {
    const previous = entries.value;
    const ranked = rankEntries(list, previous, limit);
    batch(() => {
      entries.value = ranked;
      status.value = "ready";
      error.value = null;
      updatedAt.value = now();
    });
    const leader = ranked[0];
    if (leader && previous.length > 0 && previous[0]?._id !== leader._id) {
      deps.announce?.(`${leader.name || leader._id} now leads with ${leader.current_score}`);
    }
  }

  async function reload() {
    if (entries.value.length === 0) status.value = "loading";
    const seen = broadcasts;
    try {
      const list = await deps.api.leaderboard(limit);
      if (seen === broadcasts) apply(list);
    } catch (failure) {
      if (entries.value.length > 0) return;
      batch(() => {
        status.value = "error";
        error.value = (failure as Error).message;
      });
    }
  }

  return {
    entries,
    status,
    error,
    updatedAt,
    apply,
    reload,
    activate() {
      const stop = deps.realtime.onLeaderboard((update) => {
        broadcasts++;
        apply(update.top);
      });
      void reload();
      return stop;
    },
  };
}
