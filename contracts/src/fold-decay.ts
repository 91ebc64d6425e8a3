// The v2 fold with score decay: between events the score falls with one half-life H; at an event it is decayed to the
// event's time, then the event's candidates go through the v2 clamps (rule limit → group max → [0, cap]) as they do
// without decay. Each downward crossing of a stage threshold between two events (and after the last one, up to
// `until`) is a decay entry in the history, at the first millisecond the lead is below the threshold. Still a pure
// function of the sorted events: a late event, or a later one, gives the history as if it had been known all along.
// With no half-life it is `foldScoresV2` exactly. See docs/scoring.md#decay.
import { crossingInstant, decayedScore, decayKey, stageAt } from "./decay.ts";
import { type FoldStateV2, foldScoresV2, type HistoryEntryV2, type ScorableEventV2 } from "./fold-v2.ts";
import { sortKey } from "./scoring.ts";
import { DEFAULT_STAGE_THRESHOLDS, STAGES, type Stage, type StageThresholds } from "./stage.ts";

export interface DecayOptions {
  /** The half-life in seconds; null: no decay. */
  halfLifeSeconds: number | null;
  /** Lower bounds of warm, hot and qualified: where decay entries are written. */
  thresholds?: StageThresholds;
  /** Decay entries after the last event are derived up to this instant (epoch ms, inclusive); none without it. */
  until?: number;
  /** The lead's id, for decay entries when no event is given (a fold from a stored state up to `until`). */
  leadId?: string;
}

/**
 * An entry of the history with decay: an event's (`cause: "event"`), or a stage crossing caused by time alone
 * (`cause: "decay"`: no event, no points, `event_type` "decay", `event_id` `decay:<stage reached>`). `decay` is what
 * the score lost to time since the entry before (0 or less), so each entry's score is the one before plus its `decay`
 * plus its `delta`.
 */
export interface HistoryEntryDecay extends HistoryEntryV2 {
  cause: "event" | "decay";
  decay: number;
  /** For a decay entry, the stage left and the stage reached. */
  stage_from?: Stage;
  stage_to?: Stage;
}

/** The v2 state plus when the score was last set by an event (decay runs from there), and the last entry's score. */
export interface FoldStateDecay extends FoldStateV2 {
  /** Event time (epoch ms) of the last event folded, or null before any. */
  at: number | null;
  /** The score of the last entry written (an event's, or a decay entry's), from which the next `decay` is counted. */
  entryScore: number;
  /** The instant (epoch ms) up to which decay entries have been derived, or null: a later fold derives after it. */
  through: number | null;
}

export interface FoldResultDecay extends FoldStateDecay {
  history: HistoryEntryDecay[];
}

/** A stage crossing caused by time: where the lead went, when, at what score. */
interface Crossing {
  instant: number;
  score: number;
  from: Stage;
  to: Stage;
  threshold: number;
}

/** The decay entry of a crossing, after an entry whose score was `previous`. */
function decayEntry(
  leadId: string,
  crossing: Crossing,
  previous: number,
  state: { count: number; reachedAt: number | null },
): HistoryEntryDecay {
  const { instant, score, from, to, threshold } = crossing;
  const eventId = `decay:${to}`;
  return {
    event_id: eventId,
    lead_id: leadId,
    event_type: "decay",
    timestamp: instant,
    received_at: instant,
    points: 0,
    rule_id: null,
    delta: 0,
    score,
    reason: `decayed below ${from} (${threshold})`,
    sort_key: sortKey(instant, eventId),
    seq: state.count,
    score_reached_at: state.reachedAt,
    rules: [],
    rules_version: null,
    cause: "decay",
    decay: score - previous,
    stage_from: from,
    stage_to: to,
  };
}

/**
 * The stage crossings of a score set to `score` at `at`, at instants after `first` and up to `last` (inclusive), in
 * order; two thresholds left in the same millisecond are one crossing.
 */
function crossings(
  score: number,
  at: number,
  first: number,
  last: number,
  halfLifeSeconds: number,
  thresholds: StageThresholds,
): Crossing[] {
  const found: Crossing[] = [];
  // Below the lowest threshold already, or no time to cross: nothing to find (the common case, cheaply).
  if (score < thresholds[0] || score === 0 || last <= first) return found;
  const key = decayKey(score, at, halfLifeSeconds);
  let stage = stageAt(key, at, halfLifeSeconds, thresholds);
  // Down from the stage held at `at`, one threshold at a time; a threshold of 0 is never left.
  for (let i = STAGES.indexOf(stage) - 1; i >= 0; i--) {
    const threshold = thresholds[i] as number;
    if (threshold === 0) break;
    const instant = crossingInstant(key, threshold, at, halfLifeSeconds);
    if (instant > last) break;
    const to = stageAt(key, instant, halfLifeSeconds, thresholds);
    // A crossing at or before `first` was derived by an earlier fold already.
    if (instant > first) {
      found.push({ instant, score: decayedScore(score, at, instant, halfLifeSeconds), from: stage, to, threshold });
    }
    i = STAGES.indexOf(to);
    stage = to;
  }
  return found;
}

/**
 * The fold with decay. `start` is the state just before the first event given (as `foldScoresV2`'s, plus `at`,
 * `entryScore` and `through`), so folding a lead's events in consecutive slices, each from the state the last left and
 * each up to the millisecond before the next slice's first event, gives the same history as folding them all at once;
 * a fold of no events from a stored state up to `until` gives the decay entries since the last one derived.
 */
export function foldScoresDecay(
  events: readonly ScorableEventV2[],
  cap: number,
  options: DecayOptions,
  start: Partial<FoldStateDecay> = {},
): FoldResultDecay {
  const { halfLifeSeconds, thresholds = DEFAULT_STAGE_THRESHOLDS, until } = options;
  if (halfLifeSeconds === null) {
    const folded = foldScoresV2(events, cap, start);
    const last = folded.history.at(-1);
    return {
      ...folded,
      history: folded.history.map((entry) => ({ ...entry, cause: "event", decay: 0 })),
      at: last?.timestamp ?? start.at ?? null,
      entryScore: folded.score,
      through: null,
    };
  }
  let at = start.at ?? null;
  const through = start.through ?? null;
  // The crossings before each event, by the event's place in fold order; the v2 fold runs each event's candidates
  // from its decayed score, so its clamps are exactly the ones without decay.
  const before: Crossing[][] = [];
  const decayedTo: number[] = [];
  const folded = foldScoresV2(events, cap, start, (event, score) => {
    if (at === null) {
      before.push([]);
    } else {
      const first = Math.max(at, through ?? at);
      before.push(crossings(score, at, first, event.timestamp - 1, halfLifeSeconds, thresholds));
      score = decayedScore(score, at, event.timestamp, halfLifeSeconds);
    }
    at = event.timestamp;
    decayedTo.push(score);
    return score;
  });
  const { history: entries, ...state } = folded;
  const history: HistoryEntryDecay[] = [];
  let previous = start.entryScore ?? start.score ?? 0;
  let counted = { count: start.count ?? 0, reachedAt: start.reachedAt ?? null };
  const leadId = events[0]?.lead_id ?? options.leadId ?? "";
  const addCrossings = (found: readonly Crossing[]) => {
    for (const crossing of found) {
      history.push(decayEntry(leadId, crossing, previous, counted));
      previous = crossing.score;
    }
  };
  entries.forEach((entry, index) => {
    addCrossings(before[index] as Crossing[]);
    // The fold's entries are its own fresh objects: completed in place, as a spread copies through a slow path.
    const complete = entry as HistoryEntryDecay;
    complete.cause = "event";
    complete.decay = (decayedTo[index] as number) - previous;
    history.push(complete);
    previous = entry.score;
    counted = { count: entry.seq, reachedAt: entry.score_reached_at };
  });
  let derivedThrough = through;
  if (at !== null && until !== undefined) {
    const first = Math.max(at, through ?? at);
    addCrossings(crossings(state.score, at, first, until, halfLifeSeconds, thresholds));
    derivedThrough = Math.max(first, until);
  }
  return { ...state, history, at, entryScore: previous, through: derivedThrough };
}

/**
 * A lead's score at instant `t` (epoch ms) from its score set at `at` by its last event: decayed (no decay without a
 * half-life). An instant before `at` needs the history, not this.
 */
export function scoreAt(score: number, at: number | null, t: number, halfLifeSeconds: number | null): number {
  if (halfLifeSeconds === null || at === null || t <= at) return score;
  return decayedScore(score, at, t, halfLifeSeconds);
}
