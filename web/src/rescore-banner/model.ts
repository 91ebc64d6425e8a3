// The banner of a running re-score (a retroactive publish re-folds every lead online): read from
// `GET /api/rule-sets/rescores/current` every few seconds, and every second while one runs, on every page.
import { computed, createModel, signal } from "@preact/signals";
import type { Api, Rescore } from "../lib/api.ts";

const IDLE_MS = 5_000;
const RUNNING_MS = 1_000;

export const RescoreBannerModel = createModel((deps: { api: Pick<Api, "currentRescore"> }) => {
  const rescore = signal<Rescore | null>(null, { name: "rescoreBanner.rescore" });
  const running = computed(() => rescore.value?.state === "queued" || rescore.value?.state === "running");
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watching = 0;

  async function read() {
    try {
      rescore.value = await deps.api.currentRescore();
    } catch {
      // A failed read keeps what was shown; the next one tries again.
    }
  }
  function schedule() {
    clearTimeout(timer);
    if (watching === 0) return;
    timer = setTimeout(() => void read().finally(schedule), running.value ? RUNNING_MS : IDLE_MS);
  }

  return {
    rescore,
    running,
    /** Starts reading (the app shows the banner on every page); the function returned stops. */
    watch() {
      watching += 1;
      void read().finally(schedule);
      return () => {
        watching -= 1;
        if (watching === 0) clearTimeout(timer);
      };
    },
    /** Reads now (after a publish started one). */
    refresh: () => read().finally(schedule),
  };
});
export type RescoreBannerModel = InstanceType<typeof RescoreBannerModel>;
