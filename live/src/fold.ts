// The v2 fold as the live state runs it: events as stored (with their candidates, or a v1 event's one rule) folded by
// `foldScoresV2` from a state that carries, beside the score, the fold's tally (limit counters and group totals), and
// the compact forms of what the live state keeps of it:
// - the tally (`encodeTally`): the current one and the tail's base in the lead's hash, a page's start in its document
//   (and its digest in the page's ref, so the deep lane tells a page it may keep without reading it);
// - the breakdown tally (`encodeBreakdown`): per rule and per group the points given and the events matched, and the
//   events no rule matched, summed over the whole history: what `GET /api/leads/:id/breakdown` reads.
// Rules without limits or groups leave the tally empty, and an empty one is stored as nothing.
import {
  below,
  type Candidate,
  createSpelledMemo,
  decayedScore,
  distinctSorted,
  type FoldState,
  foldScoresV2,
  fromV1Event,
  type HistoryEntry,
  jsonString,
  type LimitCounter,
  type RuleOutcome,
  remember,
  type ScorableEvent,
  type ScorableEventV2,
  withCandidates,
} from "@leadscore/contracts";

/** The part of the v2 fold state that limits and groups add: see `FoldStateV2`. */
export interface Tally {
  counters: ReadonlyMap<string, LimitCounter>;
  groups: Readonly<Record<string, number>>;
}

/**
 * A fold state with its tally; an absent tally is an empty one. `at` is the event time of the last event folded (decay
 * runs from there); absent or null before any, and in states kept from before it was recorded (read without decay).
 */
export interface LiveFoldState extends FoldState {
  tally?: Tally;
  at?: number | null;
}

/** An entry of the v2 fold, with what its event may earn (to fold it again) and what each rule gave. */
export interface FoldedEntry extends HistoryEntry {
  candidates: readonly Candidate[];
  rules: RuleOutcome[];
  rules_version: number | null;
}

/** A stored event as the v2 fold takes it: its candidates, or its v1 rule as one. */
export function v2Event(event: ScorableEvent): ScorableEventV2 {
  if (event.candidates === undefined) return fromV1Event(event);
  return withCandidates(event, event.candidates, event.rules_version ?? null);
}

/** Whether a tally holds nothing (a group at 0 is as good as absent). */
export function isEmptyTally(tally: Tally | undefined): boolean {
  if (tally === undefined) return true;
  if (tally.counters.size > 0) return false;
  for (const name in tally.groups) if (tally.groups[name] !== 0) return false;
  return true;
}

/**
 * `foldScoresV2` of the events (first copy of each id, in `(timestamp, event_id)` order) from `start`: the entries,
 * each with its candidates, and the state after the last. With a half-life the score is decayed from the last event's
 * time to each event's before its candidates run (`foldScoresDecay`'s event entries, without its decay entries).
 */
export function foldLive(
  events: readonly ScorableEvent[],
  cap: number,
  start: LiveFoldState,
  halfLifeSeconds: number | null = null,
): { history: FoldedEntry[]; state: LiveFoldState } {
  const distinct = distinctSorted(events).map(v2Event);
  let at = start.at ?? null;
  const decay =
    halfLifeSeconds === null
      ? undefined
      : (event: ScorableEventV2, score: number) => {
          const decayed = at === null ? score : decayedScore(score, at, event.timestamp, halfLifeSeconds);
          at = event.timestamp;
          return decayed;
        };
  const result = foldScoresV2(
    distinct,
    cap,
    {
      score: start.score,
      count: start.count,
      reachedAt: start.reachedAt,
      counters: start.tally?.counters,
      groups: start.tally?.groups,
    },
    decay,
  );
  const history = result.history as FoldedEntry[];
  history.forEach((entry, index) => {
    entry.candidates = (distinct[index] as ScorableEventV2).candidates;
  });
  // A fold that changed no counter and no group total gives back the start's tally itself: its text is known, so an
  // append neither encodes nor writes it again.
  const kept = start.tally;
  const tally =
    kept !== undefined && result.counters === kept.counters && result.groups === kept.groups
      ? kept
      : { counters: result.counters, groups: result.groups };
  return {
    history,
    state: {
      score: result.score,
      count: result.count,
      reachedAt: result.reachedAt,
      at: history.at(-1)?.timestamp ?? start.at ?? null,
      ...(!isEmptyTally(tally) && { tally }),
    },
  };
}

function isSorted(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i += 1) if ((names[i - 1] as string) > (names[i] as string)) return false;
  return true;
}

/**
 * A record's keys in order, sorted only when they are not already: V8's sort allocates its merge state (over a
 * kilobyte) on every call, however few the keys, and every commit encodes a tally and a breakdown.
 */
function sortedKeys(record: object): string[] {
  const keys = Object.keys(record);
  return isSorted(keys) ? keys : keys.sort();
}

/**
 * Decoded tallies and breakdowns by their text, the recently used kept: the commit writes what the fold gave, and the
 * lead's next batch reads that text back, so an active lead's is decoded from here, not parsed again. Sound because a
 * decoded tally or breakdown is never changed: every fold and every count makes new ones. Two generations of maps
 * rather than an exact LRU: a use moves an entry into the young one, and once it is full the old one is dropped —
 * deleting and re-inserting on every use left the maps' tables full of holes that every eviction walked. Texts are
 * filed by a sample of their characters (`fingerprint`) and told apart by comparing them: a Map keyed by the text
 * itself hashed every character of each new one (a heavy lead's tally runs to 10 KB, and each commit writes one and
 * reads one), where comparing two texts is a copy-speed scan.
 */
class TextMemo<T extends object> {
  private young = new Map<number, MemoSlot<T>>();
  private old = new Map<number, MemoSlot<T>>();
  private youngSize = 0;
  private readonly byValue = new WeakMap<T, string>();
  constructor(private readonly size: number) {}

  get(text: string): T | undefined {
    const print = fingerprint(text);
    const value = find(this.young.get(print), text);
    if (value !== undefined) return value;
    const aged = find(this.old.get(print), text);
    if (aged !== undefined) this.remember(print, text, aged);
    return aged;
  }

  /** The text a value was decoded from or encoded to. */
  textOf(value: T): string | undefined {
    return this.byValue.get(value);
  }

  put(text: string, value: T): T {
    this.byValue.set(value, text);
    this.remember(fingerprint(text), text, value);
    return value;
  }

  private remember(print: number, text: string, value: T): void {
    this.young.set(print, { text, value, next: this.young.get(print) });
    this.youngSize += 1;
    if (this.youngSize >= this.size) {
      this.old = this.young;
      this.young = new Map();
      this.youngSize = 0;
    }
  }
}

/** Texts of one fingerprint in a memo, newest first. */
interface MemoSlot<T> {
  text: string;
  value: T;
  next: MemoSlot<T> | undefined;
}

function find<T>(slot: MemoSlot<T> | undefined, text: string): T | undefined {
  for (let at = slot; at !== undefined; at = at.next) if (at.text === text) return at.value;
  return undefined;
}

/** Characters a fingerprint reads, spread over the text. */
const PRINT_SAMPLES = 64;

/** A small integer from a text's length and up to PRINT_SAMPLES of its characters, evenly spaced. */
function fingerprint(text: string): number {
  const length = text.length;
  const step = Math.max(1, Math.floor(length / PRINT_SAMPLES));
  let hash = length;
  for (let i = length - 1; i >= 0; i -= step) hash = Math.imul(hash ^ text.charCodeAt(i), 0x9e3779b1);
  return hash >>> 2;
}

/** Room for the leads of a few batches: a batch touches at most its events' leads. */
const MEMO_SIZE = 2_000;
const tallies = new TextMemo<Tally>(MEMO_SIZE);
const breakdowns = new TextMemo<BreakdownTally>(MEMO_SIZE);

/**
 * A tally as text, the same for equal tallies whatever their insertion order: `[[[name, bucket, count]…],
 * [[group, total]…]]`, names sorted, groups at 0 left out; "" for an empty tally.
 */
export function encodeTally(tally: Tally | undefined): string {
  if (isEmptyTally(tally)) return "";
  const known = tallies.textOf(tally as Tally);
  if (known !== undefined) return known;
  const { counters, groups } = tally as Tally;
  // A fold keeps its start's counters in order and slots new ones in: most tallies come out sorted already.
  // Written out rather than through arrays of arrays: every commit of a lead with limits encodes its whole tally.
  const parts: string[] = new Array(counters.size);
  let at = 0;
  let previous = "";
  let sorted = true;
  for (const [name, counter] of counters) {
    if (name < previous) sorted = false;
    previous = name;
    parts[at] = counterText(name, counter);
    at += 1;
  }
  if (!sorted) {
    const names = [...counters.keys()].sort();
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i] as string;
      parts[i] = counterText(name, counters.get(name) as LimitCounter);
    }
  }
  let text = `[[${parts.join(",")}],[`;
  let first = true;
  for (const id of sortedKeys(groups)) {
    const total = groups[id] as number;
    if (total === 0) continue;
    text += `${first ? "" : ","}[${jsonString(id)},${total}]`;
    first = false;
  }
  text += "]]";
  tallies.put(text, tally as Tally);
  return text;
}

/** Counters' texts in a tally by name, bucket and count (spelled-memo.ts). */
const counterTexts = createSpelledMemo(50_000);

/**
 * A counter's text in a tally, `[name,bucket,count]`, remembered: a tally is encoded whole on every commit that moves
 * one of its counters, and the rest are texts already made (a lifetime counter at its max never moves again, and
 * the same counts come back in every lead's tally).
 */
function counterText(name: string, counter: LimitCounter): string {
  const level = below(below(counterTexts.root, name), counter.bucket);
  return (
    (level.get(counter.count) as string | undefined) ??
    remember(counterTexts, level, counter.count, `[${jsonString(name)},${counter.bucket},${counter.count}]`)
  );
}

/** The tally of a text; equal texts give the same object, which must not be changed. */
export function decodeTally(text: string | null | undefined): Tally | undefined {
  if (!text) return undefined;
  const known = tallies.get(text);
  if (known !== undefined) return known;
  const [c, g] = JSON.parse(text) as [[string, number, number][], [string, number][]];
  const counters = new Map<string, LimitCounter>();
  for (const [name, bucket, count] of c) counters.set(name, { bucket, count });
  return tallies.put(text, { counters, groups: Object.fromEntries(g) });
}

/**
 * A short digest of a tally's text (53 bits, cyrb53): a page's ref carries the digest of the tally before the page,
 * so a refold keeps the page when its start state is the stored one without reading it. "" for an empty tally.
 */
export function tallyDigest(encoded: string): string {
  if (encoded === "") return "";
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < encoded.length; i += 1) {
    const ch = encoded.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * Per rule and per group, what they gave the score and the events they matched; the events no rule matched. Maps,
 * not records: every commit copies a lead's breakdown (some forty rules), and a record of that many computed names
 * is a dictionary whose copy rehashes each one.
 */
export interface BreakdownTally {
  unmatched: number;
  rules: ReadonlyMap<string, RuleTally>;
  /** `max`: the group's max as the lead's events were scored (the highest, if versions scored them differently). */
  groups: ReadonlyMap<string, GroupTally>;
}

/** A rule's part of a breakdown: the points it gave, the events it matched, its group. */
export type RuleTally = { points: number; events: number; group: string | null };
/** A group's part of a breakdown. */
export type GroupTally = { points: number; events: number; max: number };

export const emptyBreakdown = (): BreakdownTally => ({ unmatched: 0, rules: new Map(), groups: new Map() });

/** The tally with `entries` added (`sign` 1) or taken away (-1): a new tally, `tally` is left as it is. */
export function addToBreakdown(
  tally: BreakdownTally,
  entries: readonly Pick<FoldedEntry, "rules" | "candidates">[],
  sign: 1 | -1,
): BreakdownTally {
  // Copy on write: the tallies of rules and groups the entries touch are copied once, then counted in place (a
  // tail's refold takes its entries away and adds them again); the others are shared with `tally`. A tally in the
  // new maps that is not the one `tally` has is a copy made here.
  const rules = new Map(tally.rules);
  const groups = new Map(tally.groups);
  const copiedRules: string[] = [];
  const copiedGroups: string[] = [];
  let unmatched = tally.unmatched;
  const seen: string[] = [];
  for (const entry of entries) {
    if (entry.rules.length === 0) unmatched += sign;
    seen.length = 0;
    for (let index = 0; index < entry.rules.length; index += 1) {
      const outcome = entry.rules[index] as RuleOutcome;
      let rule = rules.get(outcome.rule_id);
      const shared = tally.rules.get(outcome.rule_id);
      if (rule === undefined || rule === shared) {
        rule =
          shared === undefined
            ? { points: 0, events: 0, group: outcome.group }
            : { points: shared.points, events: shared.events, group: shared.group };
        copiedRules.push(outcome.rule_id);
        rules.set(outcome.rule_id, rule);
      }
      rule.points += sign * outcome.given;
      rule.events += sign;
      rule.group = outcome.group ?? rule.group;
      if (outcome.group === null) continue;
      let group = groups.get(outcome.group);
      const sharedGroup = tally.groups.get(outcome.group);
      if (group === undefined || group === sharedGroup) {
        group =
          sharedGroup === undefined
            ? { points: 0, events: 0, max: 0 }
            : { points: sharedGroup.points, events: sharedGroup.events, max: sharedGroup.max };
        copiedGroups.push(outcome.group);
        groups.set(outcome.group, group);
      }
      group.points += sign * outcome.given;
      if (!seen.includes(outcome.group)) group.events += sign;
      group.max = Math.max(group.max, entry.candidates[index]?.group?.max ?? 0);
      seen.push(outcome.group);
    }
  }
  for (const id of copiedRules) if (rules.get(id)?.events === 0) rules.delete(id);
  for (const id of copiedGroups) if (groups.get(id)?.events === 0) groups.delete(id);
  return { unmatched, rules, groups };
}

/** A map's keys in order, sorted only when they are not already (an append adds new rules last). */
function sortedIds(map: ReadonlyMap<string, unknown>): string[] {
  const ids = [...map.keys()];
  return isSorted(ids) ? ids : ids.sort();
}

/**
 * The breakdown tally as the lead's hash stores it: `[unmatched, [[rule, points, events, group?]…], [[group, points,
 * events, max]…]?]`, sorted by id; "" when the lead has no entry.
 */
export function encodeBreakdown(tally: BreakdownTally): string {
  const known = breakdowns.textOf(tally);
  if (known !== undefined) return known;
  // Written out rather than through arrays of arrays: every commit encodes the lead's whole breakdown.
  if (tally.unmatched === 0 && tally.rules.size === 0) return "";
  const ruleIds = sortedIds(tally.rules);
  const rules: string[] = new Array(ruleIds.length);
  for (let i = 0; i < ruleIds.length; i += 1) {
    const id = ruleIds[i] as string;
    rules[i] = ruleText(id, tally.rules.get(id) as RuleTally);
  }
  let text = `[${tally.unmatched},[${rules.join(",")}]`;
  if (tally.groups.size > 0) {
    const groupIds = sortedIds(tally.groups);
    const groups: string[] = new Array(groupIds.length);
    for (let i = 0; i < groupIds.length; i += 1) {
      const id = groupIds[i] as string;
      const group = tally.groups.get(id) as GroupTally;
      groups[i] = `[${jsonString(id)},${group.points},${group.events},${group.max}]`;
    }
    text += `,[${groups.join(",")}]`;
  }
  text += "]";
  breakdowns.put(text, tally);
  return text;
}

/**
 * Rules' texts in breakdowns, by their tally: a commit counts the few rules its entries matched in new tallies and
 * shares the others with the breakdown before it (`addToBreakdown`), whose texts are then made once. A rule's tally
 * is never changed once its breakdown is made, and is that of one rule id.
 */
const ruleTexts = new WeakMap<RuleTally, string>();

function ruleText(id: string, rule: RuleTally): string {
  let text = ruleTexts.get(rule);
  if (text === undefined) {
    const group = rule.group === null ? "" : `,${jsonString(rule.group)}`;
    text = `[${jsonString(id)},${rule.points},${rule.events}${group}]`;
    ruleTexts.set(rule, text);
  }
  return text;
}

/** The breakdown tally of a text, a new one each time (for a caller that may change it). */
export function decodeBreakdown(text: string | null | undefined): BreakdownTally {
  if (!text) return emptyBreakdown();
  const [unmatched, rules, groups] = JSON.parse(text) as [
    number,
    [string, number, number, string?][],
    [string, number, number, number][]?,
  ];
  const byRule = new Map<string, RuleTally>();
  for (const [id, points, events, group] of rules) byRule.set(id, { points, events, group: group ?? null });
  const byGroup = new Map<string, GroupTally>();
  for (const [id, points, events, max] of groups ?? []) byGroup.set(id, { points, events, max });
  return { unmatched, rules: byRule, groups: byGroup };
}

/** `decodeBreakdown`, but equal texts give the same object, which must not be changed (`addToBreakdown` does not). */
export function decodeSharedBreakdown(text: string | null | undefined): BreakdownTally {
  if (!text) return emptyBreakdown();
  return breakdowns.get(text) ?? breakdowns.put(text, decodeBreakdown(text));
}
