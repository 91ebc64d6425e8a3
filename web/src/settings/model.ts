// The scoring settings: the half-life of score decay. The app reads it once signed in (and every minute while scores
// are shown, so a change made elsewhere arrives); the header says when decay is on, every score shown decays with it
// on this model's clock — one timer for the whole app — and the settings page sets it with the admin token.

import { DEFAULT_STAGE_THRESHOLDS, type StageThresholds } from "@leadscore/contracts/stage";
import { batch, computed, createModel, effect, type ReadonlySignal, signal, untracked } from "@preact/signals";
import type { Api, ScoringChange } from "../lib/api.ts";
import { type DecayClock, decayHeadline, tickMs } from "../lib/decay.ts";
import { addView, interval } from "../lib/reactions.ts";

/** The units the settings page offers a half-life in. */
export const HALF_LIFE_UNITS = [
  { value: "days", label: "days", seconds: 86_400 },
  { value: "hours", label: "hours", seconds: 3600 },
] as const;
export type HalfLifeUnit = (typeof HALF_LIFE_UNITS)[number]["value"];

/** While scores are shown, the setting is read again this often. */
const RELOAD_MS = 60_000;

export interface HalfLifeForm {
  on: boolean;
  amount: string;
  unit: HalfLifeUnit;
}

/** The form for a half-life: in days when it is whole days, else in hours; off without one. */
export function formOf(halfLifeSeconds: number | null): HalfLifeForm {
  if (halfLifeSeconds === null) return { on: false, amount: "30", unit: "days" };
  const days = halfLifeSeconds / 86_400;
  if (Number.isInteger(days)) return { on: true, amount: String(days), unit: "days" };
  return { on: true, amount: String(Math.round((halfLifeSeconds / 3600) * 1e6) / 1e6), unit: "hours" };
}

/** The half-life a form asks for, in whole seconds (null: off), or the problem with its amount. */
export function halfLifeOf(form: HalfLifeForm): { seconds: number | null } | { error: string } {
  if (!form.on) return { seconds: null };
  const amount = Number(form.amount.trim());
  if (form.amount.trim() === "" || !Number.isFinite(amount) || amount <= 0) {
    return { error: "Enter a number of days or hours above 0" };
  }
  const unit = HALF_LIFE_UNITS.find((u) => u.value === form.unit) ?? HALF_LIFE_UNITS[0];
  const seconds = Math.round(amount * unit.seconds);
  if (seconds < 1) return { error: "A half-life is at least one second" };
  if (seconds > 100 * 365 * 86_400) return { error: "A half-life is at most a century" };
  return { seconds };
}

export const ScoringModel = createModel(
  (deps: { api: Pick<Api, "scoring" | "setScoring">; adminToken: ReadonlySignal<string>; now?: () => number }) => {
    const now = deps.now ?? Date.now;
    const halfLife = signal<number | null>(null, { name: "scoring.halfLife" });
    const thresholds = signal<StageThresholds>(DEFAULT_STAGE_THRESHOLDS, { name: "scoring.thresholds" });
    const status = signal<"loading" | "ready" | "error">("loading", { name: "scoring.status" });
    const error = signal<string | null>(null, { name: "scoring.error" });
    const clock = signal(now(), { name: "scoring.now" });
    /** Views showing decaying scores: the clock ticks while there is one and a half-life is set. */
    const watchers = signal<readonly object[]>([], { name: "scoring.watchers" });
    /** Whether any view watches: a view coming or going while others watch leaves the timers as they are. */
    const watched = computed(() => watchers.value.length > 0);
    const form = signal<HalfLifeForm>(formOf(null), { name: "scoring.form" });
    const formError = signal<string | null>(null, { name: "scoring.formError" });
    const saving = signal(false, { name: "scoring.saving" });
    const saved = signal<ScoringChange | null>(null, { name: "scoring.saved" });
    let edited = false;
    let sequence = 0;

    async function load() {
      const mine = ++sequence;
      try {
        const read = await deps.api.scoring();
        if (mine !== sequence) return;
        batch(() => {
          halfLife.value = read.half_life_seconds;
          thresholds.value = read.stage_thresholds;
          if (!edited) form.value = formOf(read.half_life_seconds);
          status.value = "ready";
          error.value = null;
        });
      } catch (failure) {
        if (mine !== sequence || status.value === "ready") return;
        batch(() => {
          status.value = "error";
          error.value = (failure as Error).message;
        });
      }
    }

    effect(() => {
      const seconds = halfLife.value;
      if (seconds === null || !watched.value) return;
      clock.value = now();
      return interval(() => {
        clock.value = now();
      }, tickMs(seconds));
    });
    effect(() => {
      if (watched.value) return interval(() => void load(), RELOAD_MS);
    });

    const decay: DecayClock = {
      halfLife,
      thresholds,
      now: clock,
      // Views start watching from their own effects, which must not come to depend on who else watches.
      watch: () => untracked(() => addView(watchers, {})),
    };

    return {
      /** Seconds; null: no decay. */
      halfLife,
      status,
      error,
      /** The clock every decaying score is shown by. */
      decay,
      /** "Scores halve every 30 days" while decay is on, else null. */
      headline: computed(() => (halfLife.value === null ? null : decayHeadline(halfLife.value))),
      form,
      formError,
      saving,
      /** The answer of the last change made here: the setting and how long its re-key took. */
      saved,
      load,
      edit(patch: Partial<HalfLifeForm>) {
        edited = true;
        batch(() => {
          form.value = { ...form.value, ...patch };
          formError.value = null;
          saved.value = null;
        });
      },
      /** Sends the form's half-life; the answer comes once the score index is re-keyed. */
      async save() {
        const asked = halfLifeOf(form.value);
        if ("error" in asked) {
          formError.value = asked.error;
          return;
        }
        if (saving.value) return;
        batch(() => {
          saving.value = true;
          formError.value = null;
          saved.value = null;
        });
        sequence++;
        try {
          const answer = await deps.api.setScoring({ half_life_seconds: asked.seconds }, deps.adminToken.value);
          edited = false;
          batch(() => {
            halfLife.value = answer.half_life_seconds;
            thresholds.value = answer.stage_thresholds;
            form.value = formOf(answer.half_life_seconds);
            saved.value = answer;
            status.value = "ready";
          });
        } catch (failure) {
          formError.value = (failure as Error).message;
        } finally {
          saving.value = false;
        }
      },
    };
  },
);
export type ScoringModel = InstanceType<typeof ScoringModel>;
