// Headline figures from one request: `GET /api/stats`, counts the edge reads from the live state's indexes (lead
// counts by stage, the score distribution, events accepted, scored and refused by the store in the last 24 hours). No list is read for
// them, and no mean is shown: the live state keeps no sum of scores, and a mean over a sample would mislead.
import type { Stage } from "@leadscore/contracts";
import { STAGES } from "@leadscore/contracts/stage";
import { batch, computed, createModel, signal } from "@preact/signals";
import type { Api, Stats } from "../lib/api.ts";
import { addView, createLiveRefresh } from "../lib/reactions.ts";
import type { Realtime } from "../lib/realtime.ts";

const REFRESH_INTERVAL_MS = 10_000;
/** Live activity refreshes the figures at most this often. */
const LIVE_REFRESH_MS = 1000;

export interface FunnelStep {
  stage: Stage;
  count: number;
  /** Share of the leads at this stage or beyond that went on to the next stage; null for the last stage or none. */
  onward: number | null;
}

/** The stage funnel: each stage's count, and the share of leads at it or beyond that reached the next. */
export function funnelOf(byStage: Record<Stage, number>): FunnelStep[] {
  return STAGES.map((stage, index) => {
    const atOrBeyond = STAGES.slice(index).reduce((sum, s) => sum + (byStage[s] ?? 0), 0);
    const beyond = atOrBeyond - (byStage[stage] ?? 0);
    const last = index === STAGES.length - 1;
    return { stage, count: byStage[stage] ?? 0, onward: last || atOrBeyond === 0 ? null : beyond / atOrBeyond };
  });
}

/** The headline figures; `activate` shows them (and keeps them fresh) until the function it returns is called. */
export const HeadlineModel = createModel((deps: { api: Pick<Api, "stats">; realtime: Realtime }) => {
  const stats = signal<Stats | null>(null, { name: "headline.stats" });
  const status = signal<"loading" | "ready" | "error">("loading", { name: "headline.status" });
  const error = signal<string | null>(null, { name: "headline.error" });
  const views = signal<readonly object[]>([], { name: "headline.views" });
  const shown = computed(() => views.value.length > 0);
  let sequence = 0;
  // Scores moved since the figures were read: they are read again within LIVE_REFRESH_MS.
  const live = createLiveRefresh({
    shown,
    realtime: deps.realtime,
    refresh: () => void refresh(),
    everyMs: REFRESH_INTERVAL_MS,
    liveMs: LIVE_REFRESH_MS,
    name: "headline.refreshDue",
  });

  async function refresh() {
    live.started();
    const mine = ++sequence;
    try {
      const read = await deps.api.stats();
      if (mine !== sequence) return;
      batch(() => {
        stats.value = read;
        status.value = "ready";
        error.value = null;
      });
    } catch (failure) {
      if (mine !== sequence || stats.value !== null) return;
      batch(() => {
        status.value = "error";
        error.value = (failure as Error).message;
      });
    }
  }

  return {
    stats,
    funnel: computed(() => (stats.value ? funnelOf(stats.value.by_stage) : [])),
    /** Events the store refused in the last 24 hours (dead letters, not scored); 0 until the figures are read. */
    deadLetters: computed(() => stats.value?.dead_letters_24h ?? 0, { name: "headline.deadLetters" }),
    status,
    error,
    refresh,
    activate() {
      live.clear();
      void refresh();
      return addView(views, {});
    },
  };
});
export type HeadlineModel = InstanceType<typeof HeadlineModel>;
