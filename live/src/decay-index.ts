// The score index with decay: the same sorted set (`byScore`), keyed so that ascending order is still the
// leaderboard, and every score range a read asks for turned into a range of keys at the read's instant. A lead's key
// is `−(log2 s_i + t_i/H)` (`decayKey` negated, so ascending is highest first; a zero score `−ZERO_KEY`, after every
// other lead): it only changes with an event, yet `s(t) ≥ T` is `key ≤ −decayBound(T, t)` at any instant t. Counts, stages,
// histograms and pages are then the same single range reads as without decay. See docs/scoring.md#decay.
import {
  decayBound,
  decayKey,
  STAGES,
  type Stage,
  type StageThresholds,
  stageAt,
  stageFor,
} from "@leadscore/contracts";
import { rankKey, rankRange, stageRange } from "./codec.ts";

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The smallest double above `x`: an exclusive lower bound as an inclusive one. */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY) return x;
  if (x === 0) return Number.MIN_VALUE;
  f64[0] = x;
  u64[0] = x > 0 ? (u64[0] as bigint) + 1n : (u64[0] as bigint) - 1n;
  return f64[0] as number;
}

/** The leaderboard value of a lead whose score was set to `score` by its last event at `at`. */
export function decayRankKey(score: number, at: number | null, halfLifeSeconds: number): number {
  return -decayKey(at === null ? 0 : score, at ?? 0, halfLifeSeconds);
}

/** The rank-key range of the leads whose score at `t` is in `[min, max]` (both inclusive). */
export function decayRankRange(
  min: number,
  max: number,
  t: number,
  halfLifeSeconds: number,
  cap: number,
): [number, number] {
  const lo = max >= cap ? Number.NEGATIVE_INFINITY : -decayBound(max, t, halfLifeSeconds);
  return [lo, -decayBound(min, t, halfLifeSeconds)];
}

/** The rank-key range of the leads whose score at `t` is in `[min, below)`: `below` excluded. */
export function decayRankRangeBelow(min: number, below: number, t: number, halfLifeSeconds: number): [number, number] {
  return [nextUp(-decayBound(below, t, halfLifeSeconds)), -decayBound(min, t, halfLifeSeconds)];
}

/** The rank-key range of a stage at `t`: its lower threshold included, the next one excluded. */
export function decayStageRange(
  stage: Stage,
  thresholds: StageThresholds,
  t: number,
  halfLifeSeconds: number,
  cap: number,
): [number, number] {
  const index = STAGES.indexOf(stage);
  const from = index === 0 ? 0 : (thresholds[index - 1] as number);
  const below = thresholds[index];
  if (below === undefined) return decayRankRange(from, cap, t, halfLifeSeconds, cap);
  return decayRankRangeBelow(from, below, t, halfLifeSeconds);
}

/** The intersection of two rank-key ranges, or null when it is empty. */
export function intersectRanges(a: [number, number], b: [number, number]): [number, number] | null {
  const lo = Math.max(a[0], b[0]);
  const hi = Math.min(a[1], b[1]);
  return lo > hi ? null : [lo, hi];
}

/**
 * The histogram's buckets at `t`: `[min, min + width)` (the last one up to the cap, included), as rank-key ranges. A
 * bucket is labelled with whole points (`min`, `min + width − 1`) as without decay.
 */
export function decayHistogramRanges(
  width: number,
  t: number,
  halfLifeSeconds: number,
  cap: number,
): { min: number; max: number; range: [number, number] }[] {
  const buckets: { min: number; max: number; range: [number, number] }[] = [];
  for (let min = 0; min <= cap; min += width) {
    const below = min + width;
    const range =
      below > cap
        ? decayRankRange(min, cap, t, halfLifeSeconds, cap)
        : decayRankRangeBelow(min, below, t, halfLifeSeconds);
    buckets.push({ min, max: Math.min(below - 1, cap), range });
  }
  return buckets;
}

/**
 * The rank-key range of the leads that fall below `threshold` during `(from, to]`: at or above it at `from`, below it
 * at `to`. One range read per threshold finds every lead crossing in an interval, whatever the number of leads, and
 * each one's instant is `crossingInstant` of its key — no per-lead timer, no scan.
 */
export function decayCrossingRange(
  threshold: number,
  from: number,
  to: number,
  halfLifeSeconds: number,
): [number, number] {
  return [nextUp(-decayBound(threshold, to, halfLifeSeconds)), -decayBound(threshold, from, halfLifeSeconds)];
}

/**
 * Where a lead's state stands in the indexes at instant `t`: its score-index value (`rankKey` without decay,
 * `decayRankKey` with) and its stage (with decay, the stage its score has decayed to by `t`, never before its last
 * event).
 */
export function indexPlace(
  state: { score: number; reachedAt: number | null; lastEventAt: number | null },
  t: number,
  cap: number,
  thresholds: StageThresholds,
  halfLifeSeconds: number | null,
): { rankKey: number; stage: Stage } {
  if (halfLifeSeconds === null) {
    return { rankKey: rankKey(state.score, state.reachedAt, cap), stage: stageFor(state.score, thresholds) };
  }
  const at = state.lastEventAt;
  const key = decayKey(at === null ? 0 : state.score, at ?? 0, halfLifeSeconds);
  return { rankKey: -key, stage: stageAt(key, Math.max(t, at ?? t), halfLifeSeconds, thresholds) };
}

/** A list's score and stage filters (a stage is a score range). */
export interface ScoreFilters {
  minScore?: number | undefined;
  maxScore?: number | undefined;
  stage?: Stage | undefined;
}

/**
 * The rank-key range a list's filters select at instant `t`, or null when they select nothing: without decay a range
 * of `rankKey`s, with it of `decayRankKey`s whose every bound moves with `t`. The lists, their counts and the searches
 * all filter through it, so they agree at the instant they are read at.
 */
export function filterRankRange(
  filters: ScoreFilters,
  t: number,
  halfLifeSeconds: number | null,
  cap: number,
  thresholds: StageThresholds,
): [number, number] | null {
  let [min, max] = [filters.minScore ?? 0, Math.min(filters.maxScore ?? cap, cap)];
  if (halfLifeSeconds === null) {
    if (filters.stage) {
      const [from, to] = stageRange(filters.stage, thresholds, cap);
      [min, max] = [Math.max(min, from), Math.min(max, to)];
    }
    return min > max ? null : rankRange(min, max, cap);
  }
  if (min > max) return null;
  const range = decayRankRange(min, max, t, halfLifeSeconds, cap);
  if (!filters.stage) return range;
  return intersectRanges(range, decayStageRange(filters.stage, thresholds, t, halfLifeSeconds, cap));
}
