// The top leads, live: the server's `leaderboard` broadcasts replace the first page; each entry remembers how many
// places it moved so the view can show it. Further pages are read from the lead list in the same order (score, then
// who reached it first), and the number of leads sharing the top score is counted, so a tie is never hidden.
import type { LeaderboardEntry } from "@leadscore/contracts";
import { batch, computed, createModel, effect, signal } from "@preact/signals";
import type { Api, Lead } from "../lib/api.ts";
import { type DecayClock, decayedRows, NO_DECAY, shownScore } from "../lib/decay.ts";
import { addView, timeout } from "../lib/reactions.ts";
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

/** Leads further down the board, as the list reads them. */
export function pageEntries(leads: readonly Lead[], firstRank: number): RankedEntry[] {
  return leads.map((lead, index) => ({
    _id: lead._id,
    name: lead.name,
    company: lead.company,
    current_score: lead.current_score,
    stage: lead.stage,
    rank: firstRank + index,
    movement: 0,
  }));
}

/** Live changes re-count the leads at the top score at most this often. */
const RECOUNT_MS = 1000;

/** The board; `activate` keeps it live until the function it returns is called. */
export const LeaderboardModel = createModel(
  (deps: {
    api: Pick<Api, "leaderboard" | "listLeads">;
    realtime: Realtime;
    limit?: number;
    announce?: (text: string) => void;
    now?: () => number;
    /** Score decay: entries are shown decayed to its instant (none by default). */
    decay?: DecayClock;
  }) => {
    const limit = deps.limit ?? LEADERBOARD_LIMIT;
    const now = deps.now ?? Date.now;
    const decay = deps.decay ?? NO_DECAY;
    /** When the live top and the page further down were heard: their scores decay from there. */
    const topAt = signal(0, { name: "leaderboard.topAt" });
    const furtherAt = signal(0, { name: "leaderboard.furtherAt" });
    const top = signal<RankedEntry[]>([], { name: "leaderboard.top" });
    const further = signal<RankedEntry[]>([], { name: "leaderboard.further" });
    /** Cursors of the list pages after the first (the first page of the board is the live top). */
    const cursors = signal<string[]>([], { name: "leaderboard.cursors" });
    const next = signal<string | null>(null, { name: "leaderboard.next" });
    const pageLoading = signal(false, { name: "leaderboard.pageLoading" });
    const tiedAtTop = signal<{ score: number; count: number } | null>(null, { name: "leaderboard.tiedAtTop" });
    const entries = computed(() => (cursors.value.length === 0 ? top.value : further.value));
    let counted: { score: number; at: number } | null = null;
    /** Views showing the board; only the paged ones need the count of ties and the next page. */
    const views = signal<readonly { paged: boolean }[]>([], { name: "leaderboard.views" });
    const shown = computed(() => views.value.length > 0);
    const paged = computed(() => views.value.some((view) => view.paged));
    let pageSequence = 0;
    const status = signal<"loading" | "ready" | "error">("loading", { name: "leaderboard.status" });
    const error = signal<string | null>(null, { name: "leaderboard.error" });
    const updatedAt = signal<number | null>(null, { name: "leaderboard.updatedAt" });
    /** Counts broadcasts, so one that arrives while a read is in flight wins over that (older) read. */
    let broadcasts = 0;
    /** With decay, a broadcast asks for the board to be read again, at most once a RECOUNT_MS. */
    const readDue = signal(false, { name: "leaderboard.readDue" });
    let lastRead = 0;
    /** The half-life in force when the board was last read: a broadcast applied before it was known is read again. */
    let readWith: number | null = null;

    /** Counts the leads at the top score, and where the board's first page ends in the list's order. */
    async function recount(score: number) {
      counted = { score, at: now() };
      try {
        const [atTop, firstPage] = await Promise.all([
          deps.api.listLeads({ min_score: shownScore(score), limit: 1 }),
          next.value === null && cursors.value.length === 0
            ? deps.api.listLeads({ sort: "-score", limit })
            : Promise.resolve(null),
        ]);
        const count = atTop.total ?? 0;
        batch(() => {
          tiedAtTop.value = count > 1 ? { score: shownScore(score), count } : null;
          if (firstPage) next.value = firstPage.next;
        });
      } catch {
        // The board itself still stands; the count comes with the next change.
      }
    }

    function apply(list: readonly LeaderboardEntry[]) {
      const previous = top.value;
      const ranked = rankEntries(list, previous, limit);
      const score = ranked[0]?.current_score;
      const stale = counted?.score !== score || now() - (counted?.at ?? 0) >= RECOUNT_MS;
      if (paged.value && score !== undefined && stale) void recount(score);
      batch(() => {
        top.value = ranked;
        topAt.value = now();
        status.value = "ready";
        error.value = null;
        updatedAt.value = now();
      });
      const leader = ranked[0];
      if (leader && previous.length > 0 && previous[0]?._id !== leader._id) {
        deps.announce?.(`${leader.name || leader._id} now leads with ${shownScore(leader.current_score)}`);
      }
    }

    async function reload() {
      lastRead = now();
      readWith = decay.halfLife.peek();
      if (top.value.length === 0) status.value = "loading";
      const seen = broadcasts;
      try {
        const list = await deps.api.leaderboard(limit);
        if (seen === broadcasts) apply(list);
      } catch (failure) {
        if (top.value.length > 0) return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    /** Shows the list page after `cursor` (null: back to the live top). */
    async function showPage(stack: string[]) {
      const mine = ++pageSequence;
      const cursor = stack.at(-1);
      if (cursor === undefined) {
        batch(() => {
          cursors.value = [];
          further.value = [];
          next.value = null;
        });
        const score = top.value[0]?.current_score;
        if (score !== undefined) void recount(score);
        return;
      }
      batch(() => {
        cursors.value = stack;
        further.value = [];
        pageLoading.value = true;
      });
      try {
        const page = await deps.api.listLeads({ sort: "-score", limit, cursor });
        if (mine !== pageSequence) return;
        batch(() => {
          further.value = pageEntries(page.items, stack.length * limit + 1);
          furtherAt.value = now();
          next.value = page.next;
          error.value = null;
        });
      } catch (failure) {
        if (mine === pageSequence) error.value = (failure as Error).message;
      } finally {
        if (mine === pageSequence) pageLoading.value = false;
      }
    }

    effect(() => {
      if (shown.value) return decay.watch();
    });
    effect(() => {
      if (!shown.value) return;
      return deps.realtime.onLeaderboard((update) => {
        // With decay the broadcast carries each lead's score as its last event left it, not as it is now: its order
        // holds (time never reorders leads), but its numbers are read again from the API, which decays them.
        if (decay.halfLife.peek() !== null) {
          readDue.value = true;
          return;
        }
        broadcasts++;
        apply(update.top);
      });
    });
    effect(() => {
      if (shown.value && decay.halfLife.value !== readWith) readDue.value = true;
    });
    effect(() => {
      if (!shown.value || !readDue.value) return;
      return timeout(
        () => {
          readDue.value = false;
          void reload();
        },
        Math.max(0, lastRead + RECOUNT_MS - now()),
      );
    });

    const shownTop = computed(() => {
      const at = topAt.value;
      return decayedRows(top.value, () => at, decay);
    });
    const shownFurther = computed(() => {
      const at = furtherAt.value;
      return decayedRows(further.value, () => at, decay);
    });

    return {
      /** The board's page shown: the live top on page 1, a read of the list further down. */
      entries,
      /** `entries` as shown: with score decay, each score decayed to the app's clock (rounded down when shown). */
      shownEntries: computed(() => (cursors.value.length === 0 ? shownTop.value : shownFurther.value)),
      /** `top` as shown. */
      shownTop,
      /** The live top, whatever page is shown. */
      top,
      /** How many leads share the top score, when more than one does. */
      tiedAtTop,
      pageNumber: computed(() => cursors.value.length + 1),
      hasNext: computed(() => next.value !== null),
      pageLoading,
      async showNextPage() {
        if (next.value === null || pageLoading.value) return;
        await showPage([...cursors.value, next.value]);
      },
      async showPreviousPage() {
        if (cursors.value.length === 0) return;
        await showPage(cursors.value.slice(0, -1));
      },
      status,
      error,
      updatedAt,
      apply,
      reload,
      /** Live updates; `paged` (the leaderboard page, not the Top 5) also counts ties at the top and offers pages. */
      activate(options: { paged?: boolean } = {}) {
        if (options.paged) {
          counted = null;
          next.value = null;
        }
        const release = addView(views, { paged: options.paged === true });
        void reload();
        return release;
      },
    };
  },
);
export type LeaderboardModel = InstanceType<typeof LeaderboardModel>;
