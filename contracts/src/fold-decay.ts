// The v2 fold with score decay: between events the score falls with one half-life H; at an event it is decayed to the
// event's time, then the event's candidates go through the v2 clamps (rule limit → group max → [0, cap]) as they do
// without decay. Each downward crossing of a stage threshold between two events (and after the last one, up to
// `until`) is a decay entry in the history, at the first millisecond the lead is below the threshold. Still a pure
// function of the sorted events: a late event, or a later one, gives the history as if it had been known all along.
// With no half-life it is `foldScoresV2` exactly. See docs/scoring.md#decay.
import { crossingInstant, decayedScore, decayKey, stageAt } from "./decay.ts";
import { type FoldStateV2, foldScoresV2, type HistoryEntryV2, type ScorableEventV2 } from "./fold-v2.ts";
import { distinctSorted, sortKey } from "./scoring.ts";
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

/** The decay entry of a crossing at `instant`, from `from` to `to`. */
function decayEntry(
  leadId: string,
  instant: number,
  score: number,
  previous: number,
  state: { count: number; reachedAt: number | null },
  from: Stage,
  to: Stage,
  threshold: number,
): HistoryEntryDecay {
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
 * The decay entries of a score set to `score` at `at`, for crossings at instants after `first` and up to `last`
 * (inclusive), appended to `history`; returns the last entry's score.
 */
function crossings(
  history: HistoryEntryDecay[],
  leadId: string,
  score: number,
  at: number,
  first: number,
  last: number,
  previous: number,
  state: { count: number; reachedAt: number | null },
  halfLifeSeconds: number,
  thresholds: StageThresholds,
): number {
  if (score === 0 || last <= first) return previous;
  const key = decayKey(score, at, halfLifeSeconds);
  let stage = stageAt(key, at, halfLifeSeconds, thresholds);
  // Down from the stage held at `at`, one threshold at a time; a threshold of 0 is never left.
  for (let i = STAGES.indexOf(stage) - 1; i >= 0; i--) {
    const threshold = thresholds[i] as number;
    if (threshold === 0) break;
    const instant = crossingInstant(key, threshold, at, halfLifeSeconds);
    if (instant > last) break;
    const to = stageAt(key, instant, halfLifeSeconds, thresholds);
    if (instant <= first) {
      // Derived by an earlier fold already.
      i = STAGES.indexOf(to);
      stage = to;
      continue;
    }
    const value = decayedScore(score, at, instant, halfLifeSeconds);
    history.push(decayEntry(leadId, instant, value, previous, state, stage, to, threshold));
    previous = value;
    // Two thresholds left in the same millisecond are one entry.
    i = STAGES.indexOf(to);
    stage = to;
  }
  return previous;
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
  const history: HistoryEntryDecay[] = [];
  let state: FoldStateV2 = {
    score: start.score ?? 0,
    count: start.count ?? 0,
    reachedAt: start.reachedAt ?? null,
    counters: start.counters ?? {},
    groups: start.groups ?? {},
  };
  let at = start.at ?? null;
  let previous = start.entryScore ?? state.score;
  let through = start.through ?? null;
  for (const event of distinctSorted(events)) {
    if (at !== null) {
      previous = crossings(
        history,
        event.lead_id,
        state.score,
        at,
        Math.max(at, through ?? at),
        event.timestamp - 1,
        previous,
        state,
        halfLifeSeconds,
        thresholds,
      );
    }
    const decayed = at === null ? state.score : decayedScore(state.score, at, event.timestamp, halfLifeSeconds);
    // The v2 fold of this one event, from the decayed score: its clamps exactly as without decay.
    const { history: entries, ...next } = foldScoresV2([event], cap, { ...state, score: decayed });
    const entry = entries[0] as HistoryEntryV2;
    history.push({ ...entry, cause: "event", decay: decayed - previous });
    state = next;
    at = event.timestamp;
    previous = entry.score;
  }
  if (at !== null && until !== undefined) {
    const lead = events[0]?.lead_id ?? options.leadId ?? "";
    const first = Math.max(at, through ?? at);
    previous = crossings(history, lead, state.score, at, first, until, previous, state, halfLifeSeconds, thresholds);
    through = Math.max(first, until);
  }
  return { ...state, history, at, entryScore: previous, through };
}

/**
 * A lead's score at instant `t` (epoch ms) from its score set at `at` by its last event: decayed (no decay without a
 * half-life). An instant before `at` needs the history, not this.
 */
export function scoreAt(score: number, at: number | null, t: number, halfLifeSeconds: number | null): number {
  if (halfLifeSeconds === null || at === null || t <= at) return score;
  return decayedScore(score, at, t, halfLifeSeconds);
}
