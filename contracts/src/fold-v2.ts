// The scoring fold of model v2: what each event may earn (its candidates, fixed when it was first scored and stored
// with it) becomes what it does earn, in `(timestamp, event_id)` order, through three clamps: each rule's frequency
// limit, then each group's max, then the score's [0, cap]. A pure function of the lead's events and a start state;
// the current rules are never read. See docs/scoring.md.
import { jsonString } from "./json-text.ts";
import {
  clampScore,
  distinctSorted,
  type FoldState,
  type HistoryEntry,
  historyEntry,
  type ScorableEvent,
  signedPoints,
} from "./scoring.ts";
import { below, createSpelledMemo, remember } from "./spelled-memo.ts";

/** Periods of a frequency limit: UTC calendar buckets of the event's own time (weeks start on Monday, as ISO's). */
export const LIMIT_PERIODS = ["lifetime", "day", "week", "month"] as const;
export type LimitPeriod = (typeof LIMIT_PERIODS)[number];

const DAY_MS = 86_400_000;
/** 1970-01-01 was a Thursday: day 0 is 3 days after the Monday that starts week 0. */
const DAYS_FROM_MONDAY_AT_EPOCH = 3;

/** The bucket of a period an event time falls in: a number that grows with time (0 for `lifetime`). */
export function bucketOf(per: LimitPeriod, timestamp: number): number {
  const day = Math.floor(timestamp / DAY_MS);
  switch (per) {
    case "lifetime":
      return 0;
    case "day":
      return day;
    case "week":
      return Math.floor((day + DAYS_FROM_MONDAY_AT_EPOCH) / 7);
    case "month": {
      const date = new Date(timestamp);
      return date.getUTCFullYear() * 12 + date.getUTCMonth();
    }
  }
}

/** A rule's limit as stored with a candidate. */
export interface CandidateLimit {
  max: number;
  per: LimitPeriod;
  /** The key field (`metadata.email_id`), when the limit counts per value of a field. */
  field?: string;
  /** The event's value of `field` as text; absent when the event lacks it (such events share one bucket). */
  key?: string;
}

/** What an event may earn from one rule, stored with the event when it is first scored. */
export interface Candidate {
  rule_id: string;
  points: number;
  limit?: CandidateLimit;
  /** The rule's group and its max, as they were in the rule-set version the event was scored with. */
  group?: { id: string; max: number };
}

/** An event ready for the v2 fold: its candidates were fixed when it was first scored and never change after. */
export interface ScorableEventV2 extends Omit<ScorableEvent, "points" | "rule_id"> {
  candidates: readonly Candidate[];
  /** The rule-set version the candidates come from; null for an event scored by v1 rules. */
  rules_version: number | null;
}

/** What one matched rule asked and gave in an entry, and why anything was cut. */
export interface RuleOutcome {
  rule_id: string;
  group: string | null;
  asked: number;
  given: number;
  /** Why `given` differs from `asked`, in clamping order (`limit 3 per day reached`, `capped at 1000`). */
  cuts: readonly string[];
}

/** A line of the v2 audit trail: the v1 entry (`points` the sum asked, `rule_id` the first rule), each rule's part. */
export interface HistoryEntryV2 extends HistoryEntry {
  rules: RuleOutcome[];
  rules_version: number | null;
}

export interface LimitCounter {
  bucket: number;
  count: number;
}

/**
 * What the v2 fold carries from one event to the next. `counters` holds, per (rule, period, key), the bucket last
 * counted and the events its limit let through there, only for buckets that can still receive an event sorted after
 * the last one folded (older buckets are dropped on return); `groups` holds what each group's rules have given in all.
 */
export interface FoldStateV2 extends FoldState {
  /**
   * By name, in name order as a fold returns them (a Map, not a record: a heavy lead holds a counter per rule and
   * key, and a record of that many names is a dictionary that every copy and listing sorts and rehashes).
   */
  counters: ReadonlyMap<string, LimitCounter>;
  groups: Record<string, number>;
}

export interface FoldResultV2 extends FoldStateV2 {
  history: HistoryEntryV2[];
}

/**
 * Counter names and cuts, spelled once (spelled-memo.ts): the fold names a counter and may cut a rule for each
 * candidate of every event, with the same few texts coming back.
 */
const SPELLED_SIZE = 20_000;

const counterNames = createSpelledMemo(SPELLED_SIZE);
const limitCuts = createSpelledMemo(SPELLED_SIZE);
const groupCuts = createSpelledMemo(SPELLED_SIZE);

/**
 * The name of a limit counter: its period, the rule's id (neither holds a space), then for a keyed limit the field
 * and the key as JSON strings (a missing key as `null`).
 */
function counterName(ruleId: string, limit: CandidateLimit): string {
  const { per, field, key } = limit;
  const level = below(below(below(counterNames.root, ruleId), per), field);
  const known = level.get(key) as string | undefined;
  if (known !== undefined) return known;
  const name =
    field === undefined
      ? `${per} ${ruleId}`
      : `${per} ${ruleId} ${jsonString(field)} ${key === undefined ? "null" : jsonString(key)}`;
  return remember(counterNames, level, key, name);
}

const NO_CUTS: readonly string[] = Object.freeze([]);

/** A group's total in a start state (an id may be `__proto__`: only own properties count). */
function groupTotal(groups: Readonly<Record<string, number>>, id: string): number {
  return Object.hasOwn(groups, id) ? (groups[id] as number) : 0;
}

/** The cut of a rule's limit, as an entry lists it. */
export function limitCut(limit: CandidateLimit): string {
  const { max, per, field } = limit;
  const level = below(below(limitCuts.root, max), per);
  const known = level.get(field) as string | undefined;
  if (known !== undefined) return known;
  const cut = `limit ${max} per ${per}${field === undefined ? "" : ` for this ${field}`} reached`;
  return remember(limitCuts, level, field, cut);
}

/** The cut of a group's max, as an entry lists it. */
export function groupCut(group: { id: string; max: number }): string {
  const { id, max } = group;
  const level = below(groupCuts.root, id);
  return (level.get(max) as string | undefined) ?? remember(groupCuts, level, max, `group "${id}" at its max ${max}`);
}

/** An entry's reason: each matched rule's points and cuts (exactly v1's reason for one rule without limit or group). */
export function reasonOf(eventType: string, outcomes: readonly RuleOutcome[]): string {
  if (outcomes.length === 0) return `no active rule for ${eventType}`;
  if (outcomes.length === 1) return `${eventType} ${reasonPart(outcomes[0] as RuleOutcome)}`;
  let text = `${eventType}:`;
  for (let i = 0; i < outcomes.length; i += 1) {
    const outcome = outcomes[i] as RuleOutcome;
    text += `${i === 0 ? " " : ", "}${outcome.rule_id} ${reasonPart(outcome)}`;
  }
  return text;
}

/** One rule's part of a reason (a function of its own, not a closure per call: every entry's reason is built). */
function reasonPart(outcome: RuleOutcome): string {
  return `${signedPoints(outcome.asked)}${outcome.cuts.length === 0 ? "" : ` (${outcome.cuts.join("; ")})`}`;
}

/** The oldest bucket of each period among a set of counters (`Infinity` for a period it has none of). */
interface OldestBuckets {
  day: number;
  week: number;
  month: number;
}

/** Per set of start counters (never changed once made): its oldest buckets, so a fold that drops none can tell in O(1). */
const oldestBuckets = new WeakMap<ReadonlyMap<string, LimitCounter>, OldestBuckets>();

/** The period of a counter's name (it starts with its period); lifetime's one bucket never passes. */
function periodOf(name: string): "lifetime" | "day" | "week" | "month" {
  const first = name.charCodeAt(0);
  return first === 108 /* l */ ? "lifetime" : first === 100 /* d */ ? "day" : first === 119 /* w */ ? "week" : "month";
}

function oldestOf(counters: ReadonlyMap<string, LimitCounter>): OldestBuckets {
  let oldest = oldestBuckets.get(counters);
  if (oldest !== undefined) return oldest;
  oldest = { day: Number.POSITIVE_INFINITY, week: Number.POSITIVE_INFINITY, month: Number.POSITIVE_INFINITY };
  for (const [name, { bucket }] of counters) {
    const period = periodOf(name);
    if (period === "lifetime") continue;
    if (bucket < oldest[period]) oldest[period] = bucket;
  }
  oldestBuckets.set(counters, oldest);
  return oldest;
}

/**
 * The counters after a fold: `start`'s with `changed` over them, less those of buckets before the one `timestamp`
 * falls in (no event sorted after it can reach them; `timestamp` null: none dropped). `start` itself when the fold
 * changed and dropped nothing: a lead's tally is then the same object, whose text is known (live/src/fold.ts), and a
 * fold after it copies nothing.
 */
function countersAfter(
  start: ReadonlyMap<string, LimitCounter>,
  changed: ReadonlyMap<string, LimitCounter>,
  timestamp: number | null,
): ReadonlyMap<string, LimitCounter> {
  const current =
    timestamp === null
      ? undefined
      : { day: bucketOf("day", timestamp), week: bucketOf("week", timestamp), month: bucketOf("month", timestamp) };
  // Whether no start counter is of a bucket already past: asked only where the answer saves a pass (oldestOf walks a
  // set of counters it has not seen once).
  const dropsNone = () => {
    if (current === undefined) return true;
    const oldest = oldestOf(start);
    return oldest.day >= current.day && oldest.week >= current.week && oldest.month >= current.month;
  };
  if (changed.size === 0 && dropsNone()) return start;
  // In the start's order with new counters slotted in where they sort: a start in order (as a decoded tally is)
  // gives counters in order, which encodeTally then writes without sorting them.
  const added: string[] = [];
  for (const name of changed.keys()) if (!start.has(name)) added.push(name);
  if (added.length === 0 && dropsNone()) {
    // Only counts moved: a copy of the start with them set keeps its order.
    const moved = new Map(start);
    for (const [name, counter] of changed) moved.set(name, counter);
    return moved;
  }
  // By insertion: a fold adds a few counters at most, and V8's sort allocates its merge state on every call.
  for (let i = 1; i < added.length; i += 1) {
    const name = added[i] as string;
    let at = i;
    for (; at > 0 && (added[at - 1] as string) > name; at -= 1) added[at] = added[at - 1] as string;
    added[at] = name;
  }
  const kept = new Map<string, LimitCounter>();
  const keep = (name: string, counter: LimitCounter) => {
    if (current === undefined) kept.set(name, counter);
    else {
      const period = periodOf(name);
      if (period === "lifetime" || counter.bucket >= current[period]) kept.set(name, counter);
    }
  };
  let next = 0;
  for (const [name, counter] of start) {
    for (; next < added.length && (added[next] as string) < name; next += 1) {
      const slotted = added[next] as string;
      keep(slotted, changed.get(slotted) as LimitCounter);
    }
    keep(name, changed.get(name) ?? counter);
  }
  for (; next < added.length; next += 1) {
    const slotted = added[next] as string;
    keep(slotted, changed.get(slotted) as LimitCounter);
  }
  return kept;
}

/** What the groups' rules have given after a fold: `start` itself when no total changed. */
function groupsAfter(
  start: Readonly<Record<string, number>>,
  changed: ReadonlyMap<string, number>,
): Record<string, number> {
  if (changed.size === 0) return start as Record<string, number>;
  return Object.fromEntries([...Object.entries(start), ...changed]);
}

const NO_COUNTERS: ReadonlyMap<string, LimitCounter> = new Map();
const NO_GROUPS: Readonly<Record<string, number>> = Object.freeze({});

/**
 * The v2 fold: distinct events (by `event_id`, first copy wins) in `(timestamp, event_id)` order. Per event, each
 * candidate in stored order through three clamps: its limit (the first `max` events of a bucket pass, later ones get
 * 0), its group's max (positive points only, up to what the group has left), the score's [0, cap]. Each rule is a
 * step of the score, as each event is under v1, so what a rule gives is its own and a group never passes its max
 * (clamping the event's sum instead would have to share a floor's cut out among negative rules, and giving a grouped
 * rule's negative points back could carry its group past its max). `start` is the state just before the first event
 * given, so folding a lead's events in two consecutive slices, the second from the first's result, gives the same as
 * folding them all at once. `startOf`, when given, maps the score just before each event (in fold order) to the score
 * its candidates start from: score decay (`foldScoresDecay`).
 */
export function foldScoresV2(
  events: readonly ScorableEventV2[],
  cap: number,
  start: Partial<FoldStateV2> = {},
  startOf?: (event: ScorableEventV2, score: number) => number,
): FoldResultV2 {
  const distinct = distinctSorted(events);
  let score = clampScore(start.score ?? 0, cap);
  let count = start.count ?? 0;
  let reachedAt = start.reachedAt ?? null;
  // Counters are replaced, never changed, so the start state's are shared, not copied: the fold reads them through
  // what it changed, and copies them only when it returns a changed set (most appends of a lead change none).
  const startCounters = start.counters ?? NO_COUNTERS;
  const startGroups = start.groups ?? NO_GROUPS;
  const counters = new Map<string, LimitCounter>();
  const groups = new Map<string, number>();
  const history: HistoryEntryV2[] = [];
  for (const event of distinct) {
    if (startOf !== undefined) score = startOf(event, score);
    const before = score;
    const outcomes: RuleOutcome[] = [];
    let asked = 0;
    for (const candidate of event.candidates) {
      const { limit, group, points } = candidate;
      let given = points;
      let cuts = NO_CUTS;
      if (limit !== undefined) {
        const name = counterName(candidate.rule_id, limit);
        const bucket = bucketOf(limit.per, event.timestamp);
        const counter = counters.get(name) ?? startCounters.get(name);
        const passed = counter === undefined || counter.bucket !== bucket ? 0 : counter.count;
        if (passed >= limit.max) {
          given = 0;
          cuts = [limitCut(limit)];
        } else counters.set(name, { bucket, count: passed + 1 });
      }
      const total = group === undefined ? 0 : (groups.get(group.id) ?? groupTotal(startGroups, group.id));
      if (group !== undefined && given > group.max - total) {
        given = Math.max(0, group.max - total);
        cuts = cuts.length === 0 ? [groupCut(group)] : [...cuts, groupCut(group)];
      }
      const next = clampScore(score + given, cap);
      if (next - score !== given) {
        cuts = [...cuts, next > score + given ? "floored at 0" : `capped at ${cap}`];
        given = next - score;
      }
      score = next;
      // A group counts what its rules gave the score, after the score's clamp.
      if (group !== undefined && (given !== 0 || !Object.hasOwn(startGroups, group.id) || groups.has(group.id))) {
        groups.set(group.id, total + given);
      }
      asked += points;
      outcomes.push({ rule_id: candidate.rule_id, group: group?.id ?? null, asked: points, given, cuts });
    }
    const delta = score - before;
    count += 1;
    if (delta !== 0) reachedAt = event.timestamp;
    const entry = historyEntry(event, {
      points: asked,
      rule_id: outcomes[0]?.rule_id ?? null,
      delta,
      score,
      reason: reasonOf(event.event_type, outcomes),
      seq: count,
      score_reached_at: reachedAt,
    }) as HistoryEntryV2;
    entry.rules = outcomes;
    entry.rules_version = event.rules_version;
    history.push(entry);
  }
  const last = distinct.at(-1);
  return {
    history,
    score,
    count,
    reachedAt,
    // A fold from no counters or groups returns new ones, never the shared empty ones.
    counters:
      start.counters === undefined && counters.size === 0
        ? new Map()
        : countersAfter(startCounters, counters, last?.timestamp ?? null),
    groups: start.groups === undefined && groups.size === 0 ? {} : groupsAfter(startGroups, groups),
  };
}

/** A v1 event (one rule's points, or none) as the v2 fold takes it. */
export function fromV1Event(event: ScorableEvent): ScorableEventV2 {
  return withCandidates(event, event.rule_id === null ? [] : [{ rule_id: event.rule_id, points: event.points }], null);
}

/**
 * An event as the v2 fold takes it, with the given candidates: field by field, since a rest pattern copies through a
 * slow generic path and every fold converts each event.
 */
export function withCandidates(
  event: Omit<ScorableEvent, "points" | "rule_id">,
  candidates: readonly Candidate[],
  rulesVersion: number | null,
): ScorableEventV2 {
  return {
    event_id: event.event_id,
    lead_id: event.lead_id,
    event_type: event.event_type,
    timestamp: event.timestamp,
    received_at: event.received_at,
    candidates,
    rules_version: rulesVersion,
  };
}

export interface RuleBreakdown {
  rule_id: string;
  group: string | null;
  /** Points the rule has given the current score. */
  points: number;
  /** Events the rule matched. */
  events: number;
}

export interface GroupBreakdown {
  group: string;
  points: number;
  /** Events at least one of the group's rules matched. */
  events: number;
}

/** The current score, by group and by rule: the rules' points add up to the score. */
export interface Breakdown {
  score: number;
  groups: GroupBreakdown[];
  rules: RuleBreakdown[];
  /** Events no rule matched (scored 0). */
  unmatched: number;
}

const byPoints =
  <T extends { points: number }>(key: (item: T) => string) =>
  (a: T, b: T) =>
    b.points - a.points || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** The breakdown of a lead's score from its history (v2 entries, in order). */
export function breakdownOf(history: readonly HistoryEntryV2[]): Breakdown {
  const rules = new Map<string, RuleBreakdown>();
  const groups = new Map<string, GroupBreakdown>();
  let unmatched = 0;
  for (const entry of history) {
    if (entry.rules.length === 0) unmatched += 1;
    const seen = new Set<string>();
    for (const outcome of entry.rules) {
      const rule = rules.get(outcome.rule_id) ?? {
        rule_id: outcome.rule_id,
        group: outcome.group,
        points: 0,
        events: 0,
      };
      rule.points += outcome.given;
      rule.events += 1;
      rules.set(outcome.rule_id, rule);
      if (outcome.group === null) continue;
      const group = groups.get(outcome.group) ?? { group: outcome.group, points: 0, events: 0 };
      group.points += outcome.given;
      if (!seen.has(outcome.group)) group.events += 1;
      seen.add(outcome.group);
      groups.set(outcome.group, group);
    }
  }
  return {
    score: history.at(-1)?.score ?? 0,
    groups: [...groups.values()].sort(byPoints((group) => group.group)),
    rules: [...rules.values()].sort(byPoints((rule) => rule.rule_id)),
    unmatched,
  };
}
