// Movements: which leads entered each stage in the last 24 hours or 7 days, newest first, with the event that moved
// them (`GET /api/movements`, read from the movement streams the worker's commits write). Kept fresh while shown: a
// read every REFRESH_INTERVAL_MS, and one within LIVE_REFRESH_MS of live activity (a leaderboard broadcast).
import type { Stage } from "@leadscore/contracts";
import { STAGES } from "@leadscore/contracts/stage";
import { batch, computed, createModel, signal } from "@preact/signals";
import type { Api, Movement } from "../lib/api.ts";
import { addView, createLiveRefresh } from "../lib/reactions.ts";
import type { Realtime } from "../lib/realtime.ts";

export type MovementWindow = "24h" | "7d";
export const MOVEMENT_WINDOWS: readonly MovementWindow[] = ["24h", "7d"];
/** Movements read per refresh: the newest this many are shown. */
export const MOVEMENTS_SHOWN = 200;

const REFRESH_INTERVAL_MS = 10_000;
const LIVE_REFRESH_MS = 1000;

export interface StageGroup {
  stage: Stage;
  movements: Movement[];
}

/** Movements grouped by the stage entered, qualified first, each group newest first (as read). */
export function groupByStage(movements: readonly Movement[]): StageGroup[] {
  return [...STAGES].reverse().map((stage) => ({ stage, movements: movements.filter((m) => m.to === stage) }));
}

/** A lead entering a higher stage is a rise; a lower one (a negative rule), a drop. */
export function isRise(movement: Pick<Movement, "from" | "to">): boolean {
  return STAGES.indexOf(movement.to) > STAGES.indexOf(movement.from);
}

export const MovementsModel = createModel(
  (deps: { api: Pick<Api, "movements">; realtime: Realtime; stage?: Stage; window?: MovementWindow }) => {
    const window = signal<MovementWindow>(deps.window ?? "24h", { name: "movements.window" });
    const items = signal<Movement[]>([], { name: "movements.items" });
    const more = signal(false, { name: "movements.more" });
    const status = signal<"loading" | "ready" | "error">("loading", { name: "movements.status" });
    const error = signal<string | null>(null, { name: "movements.error" });
    const views = signal<readonly object[]>([], { name: "movements.views" });
    const shown = computed(() => views.value.length > 0);
    let sequence = 0;
    const live = createLiveRefresh({
      shown,
      realtime: deps.realtime,
      refresh: () => void refresh(),
      everyMs: REFRESH_INTERVAL_MS,
      liveMs: LIVE_REFRESH_MS,
      name: "movements.refreshDue",
    });

    async function refresh() {
      live.started();
      const mine = ++sequence;
      try {
        const page = await deps.api.movements({ since: window.value, stage: deps.stage, limit: MOVEMENTS_SHOWN });
        if (mine !== sequence) return;
        batch(() => {
          items.value = page.items;
          more.value = page.next !== null;
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        if (mine !== sequence) return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    return {
      window,
      items,
      /** More movements than MOVEMENTS_SHOWN in the window: only the newest are shown. */
      more,
      status,
      error,
      groups: computed(() => groupByStage(items.value), { name: "movements.groups" }),
      /** Distinct leads among the movements read. */
      leadCount: computed(() => new Set(items.value.map((m) => m.lead_id)).size, { name: "movements.leadCount" }),
      refresh,
      setWindow(next: MovementWindow) {
        if (window.value === next) return;
        batch(() => {
          window.value = next;
          status.value = "loading";
        });
        void refresh();
      },
      activate() {
        live.clear();
        void refresh();
        return addView(views, {});
      },
    };
  },
);
export type MovementsModel = InstanceType<typeof MovementsModel>;
