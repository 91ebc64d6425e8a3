// Score decay as the dashboard shows it. With a half-life H the API gives each score at the instant of the request;
// between reads and live updates the page decays what it last heard, s(t) = s₀ · 2^(−(t − t₀)/H), on one clock for
// the whole app, and shows it rounded down as the API does (`shownScore` in the contracts: 299.6 is warm and reads
// 299). The formula is the contracts' `decayedScore`; it is restated here because the contracts' runtime code is not
// part of the first load (the unit tests hold the two together).
import type { ScoreUpdate, Stage } from "@leadscore/contracts";
import { DEFAULT_STAGE_THRESHOLDS, STAGES, type StageThresholds, stageFor } from "@leadscore/contracts/stage";
import { type ReadonlySignal, signal } from "@preact/signals";

/** A score `score` that held at `at` (epoch ms), decayed to `to`; unchanged without a half-life or before `at`. */
export function decayedScore(score: number, at: number, to: number, halfLifeSeconds: number | null): number {
  if (halfLifeSeconds === null || score === 0 || to <= at) return score;
  return score * 2 ** (-(to - at) / (halfLifeSeconds * 1000));
}

/** A score as shown: rounded down to a whole point, so the number shown and the stage agree. */
export function shownScore(score: number): number {
  return Math.floor(score);
}

/**
 * The stage of a decayed score: time only lowers a stage, so it is the lower of the stage last heard and the stage
 * of the decayed score by the deployment's thresholds.
 */
export function decayedStage(heard: Stage, score: number, thresholds: StageThresholds): Stage {
  const now = stageFor(score, thresholds);
  return STAGES.indexOf(now) < STAGES.indexOf(heard) ? now : heard;
}

/** How often the app's one decay clock ticks: about when a score of 1,000 loses a point, from ¼ s to a minute. */
export function tickMs(halfLifeSeconds: number): number {
  const pointMs = (halfLifeSeconds * 1000) / (1000 * Math.LN2);
  return Math.min(60_000, Math.max(250, Math.round(pointMs)));
}

const UNITS = [
  { seconds: 86_400, one: "day", many: "days" },
  { seconds: 3600, one: "hour", many: "hours" },
  { seconds: 60, one: "minute", many: "minutes" },
  { seconds: 1, one: "second", many: "seconds" },
] as const;

/** A half-life in words: in the largest unit that holds it whole ("30 days", "36 hours"), else to a tenth. */
export function halfLifeWords(halfLifeSeconds: number): string {
  const whole = UNITS.find((unit) => halfLifeSeconds % unit.seconds === 0);
  const unit = whole ?? UNITS.find((u) => halfLifeSeconds >= u.seconds) ?? UNITS[3];
  const amount = Math.round((halfLifeSeconds / unit.seconds) * 10) / 10;
  return `${amount.toLocaleString("en")} ${amount === 1 ? unit.one : unit.many}`;
}

/** The headline's line when decay is on: "Scores halve every 30 days". */
export function decayHeadline(halfLifeSeconds: number): string {
  return `Scores halve every ${halfLifeWords(halfLifeSeconds)}`;
}

/**
 * Points on the curve of a score `score` set at `from` decaying until `to`, `steps` segments apart (at least one),
 * from and to included.
 */
export function decayCurve(
  score: number,
  from: number,
  to: number,
  halfLifeSeconds: number,
  steps: number,
): { at: number; score: number }[] {
  const count = Math.max(1, Math.ceil(steps));
  const points: { at: number; score: number }[] = [];
  for (let i = 0; i <= count; i++) {
    const at = from + ((to - from) * i) / count;
    points.push({ at, score: decayedScore(score, from, at, halfLifeSeconds) });
  }
  return points;
}

/** The app's decay: the half-life in force and a clock that ticks while some view shows decaying scores. */
export interface DecayClock {
  /** Seconds; null: no decay. */
  readonly halfLife: ReadonlySignal<number | null>;
  /** The stage thresholds in force (`STAGE_THRESHOLDS`), which stage a decayed score. */
  readonly thresholds: ReadonlySignal<StageThresholds>;
  /** The instant scores are shown at (epoch ms), moved on by one timer while `watch`ed and a half-life is set. */
  readonly now: ReadonlySignal<number>;
  /** Keeps the clock ticking until the returned function is called. */
  watch(): () => void;
}

/** A clock for models shown without decay (and in tests that do not need it). */
export const NO_DECAY: DecayClock = {
  halfLife: signal<number | null>(null, { name: "decay.none" }),
  thresholds: signal(DEFAULT_STAGE_THRESHOLDS, { name: "decay.none.thresholds" }),
  now: signal(0, { name: "decay.none.now" }),
  watch: () => () => undefined,
};

/** A score last heard as `score` at `at`, as shown at the clock's instant. */
export function liveScore(clock: DecayClock, score: number, at: number): number {
  const halfLife = clock.halfLife.value;
  return halfLife === null ? score : decayedScore(score, at, Math.max(at, clock.now.value), halfLife);
}

/**
 * Rows as shown at the clock's instant: each score decayed from when it was heard (`heardAt`, epoch ms; the clock's
 * instant when unknown) and its stage with it. Without a half-life, the rows themselves.
 */
export function decayedRows<T extends { current_score: number; stage: Stage }>(
  rows: readonly T[],
  heardAt: (row: T) => number | undefined,
  clock: DecayClock,
): readonly T[] {
  if (clock.halfLife.value === null) return rows;
  return rows.map((row) => {
    const score = liveScore(clock, row.current_score, heardAt(row) ?? clock.now.value);
    const stage = decayedStage(row.stage, score, clock.thresholds.value);
    return score === row.current_score && stage === row.stage ? row : { ...row, current_score: score, stage };
  });
}

/**
 * When a live update's score held: its event's time, or the lead's newest event's when the update is older (a late
 * event: the score is the one the newest event left). A subscribe's snapshot is the score decayed to the instant it
 * was read, so it held when it arrived. Epoch ms.
 */
export function heardAtOf(
  update: ScoreUpdate,
  lead: { last_event_at: string | null } | undefined,
  now: () => number = Date.now,
): number {
  if (update.snapshot) return now();
  const at = Date.parse(update.timestamp);
  const newest = lead?.last_event_at ? Date.parse(lead.last_event_at) : Number.NaN;
  return Number.isNaN(newest) ? at : Math.max(at, newest);
}
