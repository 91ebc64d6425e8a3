// How a lead's live state is laid out in its Redis hash, and the compact form of its history entries.
//
// The hash's fields are named in TypeScript (LeadHash) and stored under short names (LEAD_HASH, the one list of
// them; the Lua scripts read and write the short names). All are strings; an absent field reads as its empty value:
//   score · stage · count (events folded) · lastKey (newest sort key) · reachedAt (score_reached_at, ms)
//   lastEventAt (last_event_at, ms) · version · createdAt · updatedAt (ms) · name · email · company
//   tail the newest history entries, oldest first, as a JSON array of compact entries
//   base the fold state just before the tail's first entry: [score, count, reached_at | null, tally?, at?] (the v2
//      fold's limit counters and group totals, `encodeTally`, only when not empty — "" when `at` follows; `at` the
//      event time of the last event before the tail, where decay runs from, only once there is one)
//   tally the v2 fold's tally after the newest entry (`encodeTally`); absent while empty
//   breakdown per rule and group the points given and events matched over the whole history (`encodeBreakdown`)
//   pages the lead's history pages in MongoDB, oldest first, as a JSON array of PageRef (a page spilled from the
//      tail is spliced in by the commit script, so an append never reads the list): each page's id, size and
//      the facts that place it (its first sort key, the score after it, …), so an entry's position and
//      score_reached_at follow from the pages before it, and the lead's score chart from the pages' scores
//   newest the newest entry (what a subscribe snapshot shows)
//   tailReceivedMax the latest received_at in the tail: an append of events all received since then marks no tail
//      entry late, so the worker appends to the tail without decoding it
//   idle set only while the lead is idle: the MongoDB document that holds the fields above it shed (idle.ts)
import {
  type Candidate,
  type CandidateWire,
  candidatesOfPlain,
  clampScore,
  decodeCandidate,
  encodeCandidate,
  type FoldState,
  groupCut,
  type HistoryPageDocument,
  limitCut,
  plainCandidates,
  type RuleOutcome,
  reasonOf,
  type ScorableEvent,
  type Stage,
  type StageThresholds,
  sortKey,
  stageFor,
} from "@leadscore/contracts";
import {
  type BreakdownTally,
  decodeSharedBreakdown,
  decodeTally,
  encodeBreakdown,
  encodeTally,
  type FoldedEntry,
  type LiveFoldState,
  type Tally,
  tallyDigest,
} from "./fold.ts";

/**
 * Entries per history page as the tail spills them; the tail holds between one and two pages' worth once a lead has
 * that many. A page a late event lands in grows instead (up to 2·PAGE_SIZE - 1 entries, then it splits), so the
 * pages after it stay as they are.
 */
export const PAGE_SIZE = 50;
/** The tail spills its oldest PAGE_SIZE entries into a page once it reaches this many. */
export const TAIL_SPILL_AT = 2 * PAGE_SIZE;

/**
 * A settled history page as the lead's hash lists it: its id, size and the facts that place it. A page stores what
 * its events did to the score, not their positions: those, and `score_reached_at`, follow from the pages before it
 * (pageStarts), so a late event shifts no stored page.
 */
export interface PageRef {
  id: string;
  /** Entries in the page. */
  size: number;
  /** Sort key of its first entry. */
  firstKey: string;
  /** Event time of its last entry. */
  lastEventAt: number;
  /** Score after its last entry. */
  scoreAfter: number;
  /** Event time of its last score change; null when the score did not move in it. */
  changedAt: number | null;
  /** Earliest received_at among its entries. */
  receivedMin: number;
  /** Score after its first entry. */
  firstScore: number;
  /** Lowest score after any of its entries (the score chart's buckets read it instead of the page). */
  scoreMin: number;
  /** Highest score after any of its entries. */
  scoreMax: number;
  /** Digest of the v2 fold's tally just before the page (`tallyDigest`); "" when that tally is empty. */
  tally: string;
}

/**
 * A PageRef as the page list `pg` stores it (a JSON array of these, which the commit script splices new ones into):
 * `[id, size, firstKey, lastEventAt, scoreAfter, changedAt, receivedMin, 0, firstScore, scoreMin, scoreMax]`. Kept
 * compact: a lead's list grows by one a page, ~110 B each. The 0 holds the place of the page's latest received_at,
 * which is no longer read: refs stored with it read the same. A ref written before the last two were added reads them
 * as the lower and higher of its first and last scores (a rebuild writes them exactly).
 */
export type PageRefWire = [
  string,
  number,
  string,
  number,
  number,
  number | null,
  number,
  number,
  number,
  number?,
  number?,
  string?,
];

export function encodePageRef(ref: PageRef): PageRefWire {
  return [
    ref.id,
    ref.size,
    ref.firstKey,
    ref.lastEventAt,
    ref.scoreAfter,
    ref.changedAt,
    ref.receivedMin,
    0,
    ref.firstScore,
    ref.scoreMin,
    ref.scoreMax,
    ...(ref.tally === "" ? [] : [ref.tally]),
  ] as unknown as PageRefWire;
}

export function decodePageRef(wire: PageRefWire): PageRef {
  const [id, size, firstKey, lastEventAt, scoreAfter, changedAt, receivedMin, , firstScore] = wire;
  const scoreMin = wire[9] ?? Math.min(firstScore, scoreAfter);
  const scoreMax = wire[10] ?? Math.max(firstScore, scoreAfter);
  return {
    id,
    size,
    firstKey,
    lastEventAt,
    scoreAfter,
    changedAt,
    receivedMin,
    firstScore,
    scoreMin,
    scoreMax,
    tally: wire[11] ?? "",
  };
}

/** Refs as the page list stores them: comma-separated, to splice into the stored list, or to wrap into a new one. */
export function encodePageRefs(refs: readonly PageRef[]): string {
  return refs.map((ref) => JSON.stringify(encodePageRef(ref))).join(",");
}

/** The page list as stored (empty or absent: no pages). */
export function decodePageRefs(stored: string | null | undefined): PageRef[] {
  return stored ? (JSON.parse(stored) as PageRefWire[]).map(decodePageRef) : [];
}

/**
 * A new id for a page of the lead's history: the lead's id and a random suffix. A page is never updated, so a page
 * written anew (a late event changed it, or a rebuild laid the history out again) gets a new id.
 */
export function newPageId(leadId: string): string {
  return `${leadId}|${crypto.randomUUID().slice(0, 8)}`;
}

/** The ref of a page holding `entries` (in order, folded) from a start state whose tally is `startTally` (encoded). */
export function pageRef(id: string, entries: readonly LiveEntry[], startTally = ""): PageRef {
  const first = entries[0] as LiveEntry;
  const last = entries.at(-1) as LiveEntry;
  let changedAt: number | null = null;
  let receivedMin = Number.POSITIVE_INFINITY;
  let scoreMin = first.score;
  let scoreMax = first.score;
  for (const entry of entries) {
    if (entry.score < scoreMin) scoreMin = entry.score;
    if (entry.score > scoreMax) scoreMax = entry.score;
    if (entry.delta !== 0) changedAt = entry.timestamp;
    if (entry.received_at < receivedMin) receivedMin = entry.received_at;
  }
  return {
    id,
    size: entries.length,
    firstKey: first.sort_key,
    lastEventAt: last.timestamp,
    scoreAfter: last.score,
    changedAt,
    receivedMin,
    firstScore: first.score,
    scoreMin,
    scoreMax,
    tally: tallyDigest(startTally),
  };
}

/**
 * The fold state before each page, and after the last (`pageStarts(refs)[refs.length]`, the tail's base), with the
 * time of the last event before it (`at`, where decay runs from).
 */
export function pageStarts(refs: readonly PageRef[]): (FoldState & { at: number | null })[] {
  const starts: (FoldState & { at: number | null })[] = [{ score: 0, count: 0, reachedAt: null, at: null }];
  let state = starts[0] as FoldState & { at: number | null };
  for (const ref of refs) {
    state = {
      score: ref.scoreAfter,
      count: state.count + ref.size,
      reachedAt: ref.changedAt ?? state.reachedAt,
      at: ref.lastEventAt,
    };
    starts.push(state);
  }
  return starts;
}

/** The event time of a sort key. */
export function keyTime(key: string): number {
  return Number(key.slice(0, key.indexOf("|")));
}

/**
 * What a rule asked and gave in an entry: its candidate's wire, then `given` and, when any, its cuts — each as its
 * text, or as a letter when the candidate says the text: `l` its limit's cut, `g` its group's, `f` "floored at 0".
 */
export type OutcomeWire = [...CandidateWire, number, string[]?];

const FLOORED = "floored at 0";

/** A cut as an entry stores it: a letter for the cuts its candidate spells out (no cut's text is one letter). */
function cutCode(cut: string, candidate: Candidate): string {
  if (candidate.limit !== undefined && cut === limitCut(candidate.limit)) return "l";
  if (candidate.group !== undefined && cut === groupCut(candidate.group)) return "g";
  return cut === FLOORED ? "f" : cut;
}

function cutText(code: string, candidate: Candidate): string {
  if (code === "l" && candidate.limit !== undefined) return limitCut(candidate.limit);
  if (code === "g" && candidate.group !== undefined) return groupCut(candidate.group);
  return code === "f" ? FLOORED : code;
}

/** The cuts the score's clamp makes to one rule's points (what a v1 entry's reason says). */
function clampCuts(points: number, delta: number, cap: number): string[] {
  if (delta === points) return [];
  return [delta > points ? FLOORED : `capped at ${cap}`];
}

/** The part of an entry beyond v1's fields, or nothing when they say it all (see `entryExtras`). */
type EntryExtras = [] | [number | null] | [number | null, OutcomeWire[]];

/**
 * What an entry stores beyond its v1 fields: its rules version when it has one, and its rules (candidates and
 * outcomes) unless they are the one plain rule (or none) its v1 fields describe.
 */
function entryExtras(entry: LiveEntry): EntryExtras {
  const plain = plainCandidates(entry, entry.candidates) && entry.rules.every((rule) => rule.given === entry.delta);
  if (plain) return entry.rules_version === null ? [] : [entry.rules_version];
  // Pushed onto the candidate's wire, not spread into a new one: every tail written again encodes all its entries.
  const outcomes: OutcomeWire[] = new Array(entry.rules.length);
  for (let index = 0; index < entry.rules.length; index += 1) {
    const outcome = entry.rules[index] as RuleOutcome;
    const candidate = entry.candidates[index] as Candidate;
    const wire = encodeCandidate(candidate) as unknown as OutcomeWire;
    wire.push(outcome.given);
    if (outcome.cuts.length > 0) wire.push(outcome.cuts.map((cut) => cutCode(cut, candidate)));
    outcomes[index] = wire;
  }
  return [entry.rules_version, outcomes];
}

/** An entry's candidates and rule outcomes from its v1 fields and its extras. */
function rulesOf(
  ruleId: string | null,
  points: number,
  delta: number,
  outcomes: OutcomeWire[] | undefined,
  cap: number,
): { candidates: Candidate[]; rules: RuleOutcome[] } {
  if (outcomes === undefined) {
    if (ruleId === null) return { candidates: [], rules: [] };
    return {
      candidates: [{ rule_id: ruleId, points }],
      rules: [{ rule_id: ruleId, group: null, asked: points, given: delta, cuts: clampCuts(points, delta, cap) }],
    };
  }
  const candidates: Candidate[] = [];
  const rules = outcomes.map((wire): RuleOutcome => {
    const hasCuts = Array.isArray(wire.at(-1));
    const given = wire.at(hasCuts ? -2 : -1) as number;
    const candidate = decodeCandidate(wire.slice(0, hasCuts ? -2 : -1) as CandidateWire);
    const cuts = hasCuts ? (wire.at(-1) as string[]).map((code) => cutText(code, candidate)) : [];
    candidates.push(candidate);
    return { rule_id: candidate.rule_id, group: candidate.group?.id ?? null, asked: candidate.points, given, cuts };
  });
  return { candidates, rules };
}

/**
 * `[event_id, event_type, timestamp, received_at, points, rule_id, delta, score, seq, score_reached_at, late,
 * rules_version?, rules?]`: `rules_version` when the entry has one, `rules` (OutcomeWire each) only when they say
 * more than the v1 fields (several rules, a limit, a group, a cut other than the score's clamp).
 */
export type CompactEntry = [
  string,
  string,
  number,
  number,
  number,
  string | null,
  number,
  number,
  number,
  number | null,
  0 | 1,
  ...EntryExtras,
];

/**
 * `[event_id, event_type, timestamp, received_at, points, rule_id, rules_version?, candidates?]`: an event with its
 * points fixed; `candidates` (CandidateWire each) only when they say more than `points` and `rule_id`.
 */
export type CompactEvent = [
  string,
  string,
  number,
  number,
  number,
  string | null,
  ...([] | [number | null] | [number | null, CandidateWire[]]),
];

/**
 * A history entry as the live state keeps it: the v2 fold's entry (what each matched rule asked and gave, and what
 * the event may earn, to fold it again) plus whether its event arrived late.
 */
export interface LiveEntry extends FoldedEntry {
  late: boolean;
}

export function encodeEntry(entry: LiveEntry): CompactEntry {
  const extras = entryExtras(entry);
  const compact = withFields(new Array(11 + extras.length), entry);
  compact[8] = entry.seq;
  compact[9] = entry.score_reached_at;
  compact[10] = entry.late ? 1 : 0;
  return withExtras(compact, 11, extras) as CompactEntry;
}

/**
 * An entry's wire is filled in place in an array of its final length, not spread or pushed together: every tail
 * written again encodes all its entries, and the copies made up much of what a commit allocated.
 */
function withFields(wire: unknown[], entry: LiveEntry): unknown[] {
  wire[0] = entry.event_id;
  wire[1] = entry.event_type;
  wire[2] = entry.timestamp;
  wire[3] = entry.received_at;
  wire[4] = entry.points;
  wire[5] = entry.rule_id;
  wire[6] = entry.delta;
  wire[7] = entry.score;
  return wire;
}

function withExtras(wire: unknown[], from: number, extras: EntryExtras): unknown[] {
  for (let i = 0; i < extras.length; i += 1) wire[from + i] = extras[i];
  return wire;
}

/** The event ids of a lead's tail as its hash stores it (a JSON array of CompactEntry), without decoding the entries. */
export function tailEventIds(tail: string | null | undefined): string[] {
  return tail ? (JSON.parse(tail) as CompactEntry[]).map((compact) => compact[0]) : [];
}

/** An entry as a page stores it: CompactEntry without its position and `score_reached_at`. */
function pageEntry(entry: LiveEntry): PageEntry {
  const extras = entryExtras(entry);
  const wire = withFields(new Array(9 + extras.length), entry);
  wire[8] = entry.late ? 1 : 0;
  return withExtras(wire, 9, extras) as PageEntry;
}

export function decodeEntry(leadId: string, compact: CompactEntry, cap: number): LiveEntry {
  const [event_id, event_type, timestamp, received_at, points, rule_id, delta, score, seq, reached, late] = compact;
  const { candidates, rules } = rulesOf(rule_id, points, delta, compact[12], cap);
  // One object literal, built once: every refold decodes a whole tail.
  return {
    event_id,
    lead_id: leadId,
    event_type,
    timestamp,
    received_at,
    points,
    rule_id,
    delta,
    score,
    sort_key: sortKey(timestamp, event_id),
    seq,
    score_reached_at: reached,
    late: late === 1,
    reason: reasonOf(event_type, rules),
    candidates,
    rules,
    rules_version: compact[11] ?? null,
  };
}

/**
 * `[event_id, event_type, timestamp, received_at, points, rule_id, delta, score, late, rules_version?, rules?]`: an
 * entry in a page.
 */
export type PageEntry = [string, string, number, number, number, string | null, number, number, 0 | 1, ...EntryExtras];

/**
 * A history page's entries as stored in MongoDB (`HistoryPageDocument.entries`): without their positions and
 * `score_reached_at`, which depend on the pages before (see PageRef).
 */
export function encodePage(entries: readonly LiveEntry[]): string {
  return JSON.stringify(entries.map(pageEntry));
}

/** A history page as MongoDB stores it; its `n`, the lead's entries before it, is its first entry's `seq` less one. */
export function pageDocument(
  id: string,
  leadId: string,
  entries: readonly LiveEntry[],
  writtenAt: Date,
  startTally = "",
): HistoryPageDocument {
  const n = (entries[0] as LiveEntry).seq - 1;
  return {
    _id: id,
    lead_id: leadId,
    n,
    entries: encodePage(entries),
    ...(startTally !== "" && { tally: startTally }),
    written_at: writtenAt,
  };
}

/** A page's entries, placed after `start` (the fold state before the page: `pageStarts`). */
/**
 * A page's entries, placed after `start`. A page stores each entry's late flag as its own entries give it (received
 * after a later entry of the same page), so that what it holds never depends on what came after it and the same
 * history laid out again is the same page; `receivedAfter` (receivedAfterPages) is the earliest `received_at` after
 * the page, which marks late every entry received after it.
 */
export function decodePage(
  leadId: string,
  page: string,
  cap: number,
  start: FoldState,
  receivedAfter = Number.POSITIVE_INFINITY,
): LiveEntry[] {
  let count = start.count;
  let reachedAt = start.reachedAt;
  return (JSON.parse(page) as PageEntry[]).map((entry) => {
    count += 1;
    if (entry[6] !== 0) reachedAt = entry[2];
    // A page entry is a compact entry without its position and score_reached_at (fields 8 and 9).
    const late = entry[8] === 1 || entry[3] > receivedAfter ? 1 : 0;
    const compact = [...entry.slice(0, 8), count, reachedAt, late, ...entry.slice(9)] as CompactEntry;
    return decodeEntry(leadId, compact, cap);
  });
}

/** For each of a lead's pages, the earliest `received_at` of the entries after it: its later pages' and its tail's. */
export function receivedAfterPages(
  refs: readonly PageRef[],
  tail: readonly Pick<LiveEntry, "received_at">[],
): number[] {
  const after: number[] = new Array(refs.length);
  let min = Number.POSITIVE_INFINITY;
  for (const entry of tail) min = Math.min(min, entry.received_at);
  for (let n = refs.length - 1; n >= 0; n -= 1) {
    after[n] = min;
    min = Math.min(min, (refs[n] as PageRef).receivedMin);
  }
  return after;
}

export function encodeEvent(event: ScorableEvent): CompactEvent {
  const compact: CompactEvent = [
    event.event_id,
    event.event_type,
    event.timestamp,
    event.received_at,
    event.points,
    event.rule_id,
  ];
  const { candidates } = event;
  if (candidates === undefined) return compact;
  if (plainCandidates(event, candidates)) {
    return event.rules_version == null ? compact : [...compact, event.rules_version];
  }
  return [...compact, event.rules_version ?? null, candidates.map(encodeCandidate)];
}

/** The event of a compact event. */
export function decodeEvent(leadId: string, compact: CompactEvent): ScorableEvent {
  const [event_id, event_type, timestamp, received_at, points, rule_id, version, candidates] = compact;
  const event: ScorableEvent = { event_id, lead_id: leadId, event_type, timestamp, received_at, points, rule_id };
  if (candidates !== undefined) event.candidates = candidates.map(decodeCandidate);
  else if (version !== undefined) event.candidates = candidatesOfPlain(event);
  if (version !== undefined) event.rules_version = version;
  return event;
}

/** The event an entry scored (its points and candidates as fixed then). */
export function entryEvent(entry: FoldedEntry): ScorableEvent {
  return {
    event_id: entry.event_id,
    lead_id: entry.lead_id,
    event_type: entry.event_type,
    timestamp: entry.timestamp,
    received_at: entry.received_at,
    points: entry.points,
    rule_id: entry.rule_id,
    candidates: entry.candidates,
    rules_version: entry.rules_version,
  };
}

export interface Profile {
  name: string | null;
  email: string | null;
  company: string | null;
}

/** A lead's live state, decoded. */
export interface LiveLead extends Profile {
  id: string;
  score: number;
  stage: Stage;
  count: number;
  /** Sort key of the newest folded event, or null before the first. */
  lastKey: string | null;
  reachedAt: number | null;
  lastEventAt: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  /** Newest entries, oldest first. */
  tail: LiveEntry[];
  /** Fold state just before `tail[0]`, with its tally. */
  base: LiveFoldState;
  /** The v2 fold's tally after the newest entry; absent while empty. */
  tally?: Tally;
  /** Per rule and group, the points given and events matched over the whole history. */
  breakdown: BreakdownTally;
  /** The history pages in MongoDB, oldest first. */
  pages: PageRef[];
  /**
   * What an append needs, when the lead was read from Redis: the tail's latest received_at and, when it was read
   * (LEAD_FIELDS; not PLAN_FIELDS), the tail as stored.
   */
  stored?: { tail: string | null; tailReceivedMax: number | null };
}

/**
 * Each field of a lead's hash by name, and the name it is stored under: short, since every hot path reads the hash
 * and the commit and profile scripts write it. The only place a stored name is spelled in TypeScript.
 */
const LEAD_HASH = {
  score: "s",
  stage: "st",
  count: "n",
  lastKey: "k",
  reachedAt: "r",
  lastEventAt: "le",
  version: "v",
  createdAt: "ca",
  updatedAt: "ua",
  name: "name",
  email: "email",
  company: "company",
  base: "b",
  tailReceivedMax: "rx",
  tally: "ty",
  breakdown: "bd",
  pages: "pg",
  tail: "t",
  newest: "ne",
  /** Set while the lead is idle: the id of the MongoDB document holding the fields it shed (idle.ts). */
  idle: "i",
} as const;

export type LeadHashField = keyof typeof LEAD_HASH;

/**
 * A lead's hash as text, field by field: what HMGET read (null: the field is not set) or what to write; a field left
 * out was not read, or is not written.
 */
export type LeadHash = { [F in LeadHashField]?: string | null };

/** The name a field is stored under, for a command on one field (HGET, HINCRBY…). */
export function leadHashField(field: LeadHashField): string {
  return LEAD_HASH[field];
}

const storedNames = new WeakMap<readonly LeadHashField[], string[]>();

/** The stored names of `fields`, in order: the arguments of an HMGET that `decodeLeadHash(fields, …)` reads. */
export function leadHashFields(fields: readonly LeadHashField[]): string[] {
  let names = storedNames.get(fields);
  if (!names) {
    names = fields.map((field) => LEAD_HASH[field]);
    storedNames.set(fields, names);
  }
  return names;
}

/** An HMGET reply of `leadHashFields(fields)`, by name. */
export function decodeLeadHash(fields: readonly LeadHashField[], values: readonly (string | null)[]): LeadHash {
  const hash: LeadHash = {};
  fields.forEach((field, index) => {
    hash[field] = values[index] ?? null;
  });
  return hash;
}

/** What HSET takes to write `hash`: its set fields under their stored names (a null or absent one is not written). */
export function encodeLeadHash(hash: LeadHash): Record<string, string> {
  const pairs: string[] = [];
  pushLeadHashPairs(hash, pairs);
  const stored: Record<string, string> = {};
  for (let i = 0; i < pairs.length; i += 2) stored[pairs[i] as string] = pairs[i + 1] as string;
  return stored;
}

/**
 * `encodeLeadHash` as the flat list of stored names and values a script takes (`name, value, name, value…`), pushed
 * onto `args`; returns how many fields it pushed. Without the record and the pairs an entry list makes: every commit
 * passes each lead's fields.
 */
export function pushLeadHashPairs(hash: LeadHash, args: unknown[]): number {
  let count = 0;
  for (const field in hash) {
    const value = hash[field as LeadHashField];
    if (value === null || value === undefined) continue;
    args.push(LEAD_HASH[field as LeadHashField], value);
    count += 1;
  }
  return count;
}

/** Every field a lead's state is decoded from; the page list and the tail are the large ones, and the last. */
export const LEAD_FIELDS: readonly LeadHashField[] = [
  "score",
  "stage",
  "count",
  "lastKey",
  "reachedAt",
  "lastEventAt",
  "version",
  "createdAt",
  "updatedAt",
  "name",
  "email",
  "company",
  "base",
  "tailReceivedMax",
  "tally",
  "breakdown",
  "pages",
  "tail",
];
/**
 * What the worker plans a round from: everything but the page list and the tail, the two that grow with a lead's
 * history. An append needs neither (the commit script appends to the tail, and splices the refs of pages spilled
 * from it into the list); a lead that needs its tail has it read apart (`withTail`).
 */
export const PLAN_FIELDS: readonly LeadHashField[] = LEAD_FIELDS.slice(0, -2);
/** Fields for a lead without its tail (lists, detail). */
export const SUMMARY_FIELDS: readonly LeadHashField[] = LEAD_FIELDS.slice(0, 12);

const num = (value: string | null | undefined, fallback = 0) => (value ? Number(value) : fallback);
const numOrNull = (value: string | null | undefined) => (value ? Number(value) : null);
const textOrNull = (value: string | null | undefined) => (value ? value : null);

/**
 * Decodes a lead's hash as read with LEAD_FIELDS, PLAN_FIELDS or SUMMARY_FIELDS; null when the lead has no live
 * state at all. With SUMMARY_FIELDS the tail, base and pages read as empty; with PLAN_FIELDS reading the tail is an
 * error until `withTail` gives it, and reading the pages always is. The tail, the pages and their ends, the tally
 * and the breakdown are decoded when first read: an append needs neither the tail nor the pages.
 */
export function decodeLead(leadId: string, hash: LeadHash, cap: number, thresholds: StageThresholds): LiveLead | null {
  const { version, base, tailReceivedMax, pages: storedPages, tail: storedTail } = hash;
  if (version === null || version === undefined) return null;
  const planned = tailReceivedMax !== undefined && storedTail === undefined;
  const score = num(hash.score);
  const baseRaw = base ? (JSON.parse(base) as [number, number, number | null, string?, number?]) : [0, 0, null];
  let tail: LiveEntry[] | undefined;
  let pages: PageRef[] | undefined;
  let breakdown: BreakdownTally | undefined;
  const lead: LiveLead = {
    id: leadId,
    score,
    stage: (hash.stage as Stage | null | undefined) ?? stageFor(score, thresholds),
    count: num(hash.count),
    lastKey: hash.lastKey ? hash.lastKey : null,
    reachedAt: numOrNull(hash.reachedAt),
    lastEventAt: numOrNull(hash.lastEventAt),
    version: num(version),
    createdAt: num(hash.createdAt),
    updatedAt: num(hash.updatedAt),
    name: textOrNull(hash.name),
    email: textOrNull(hash.email),
    company: textOrNull(hash.company),
    get tail() {
      if (planned) throw new Error(`lead ${leadId} was read without its tail`);
      tail ??= storedTail
        ? (JSON.parse(storedTail) as CompactEntry[]).map((entry) => decodeEntry(leadId, entry, cap))
        : [];
      return tail;
    },
    base: baseState(
      baseRaw[0] ?? 0,
      baseRaw[1] ?? 0,
      baseRaw[2] ?? null,
      baseRaw[3] as string | undefined,
      (baseRaw[4] as number | undefined) ?? null,
    ),
    get breakdown() {
      breakdown ??= decodeSharedBreakdown(hash.breakdown);
      return breakdown;
    },
    get pages() {
      if (storedPages === undefined) throw new Error(`lead ${leadId} was read without its pages`);
      pages ??= decodePageRefs(storedPages);
      return pages;
    },
    stored:
      tailReceivedMax === undefined
        ? undefined
        : { tail: planned ? null : (storedTail ?? ""), tailReceivedMax: numOrNull(tailReceivedMax) },
  };
  // Decoded when first read, as the breakdown is: a lead planned again with its tail is decoded twice, and a lead read
  // for a list never reads either. Absent, not undefined, while empty.
  const storedTally = hash.tally;
  if (storedTally) {
    let tally: Tally | undefined;
    Object.defineProperty(lead, "tally", {
      enumerable: true,
      get: () => {
        tally ??= decodeTally(storedTally);
        return tally;
      },
    });
  }
  return lead;
}

/** The tail's base; its tally, which only a refold of the tail reads, is decoded when first read. */
function baseState(
  score: number,
  count: number,
  reachedAt: number | null,
  tally: string | undefined,
  at: number | null,
): LiveFoldState {
  if (!tally) return at === null ? { score, count, reachedAt } : { score, count, reachedAt, at };
  let decoded: Tally | undefined;
  return {
    score,
    count,
    reachedAt,
    ...(at !== null && { at }),
    get tally() {
      decoded ??= decodeTally(tally);
      return decoded;
    },
  };
}

/** A lead read with PLAN_FIELDS (`hash`), completed with its tail as stored; its pages are still unread. */
export function withTail(
  lead: LiveLead,
  hash: LeadHash,
  tail: string | null,
  cap: number,
  thresholds: StageThresholds,
): LiveLead {
  return decodeLead(lead.id, { ...hash, tail }, cap, thresholds) as LiveLead;
}

/**
 * Each entry's compact form as JSON: a tail, an append and the newest entry are made of these, so an entry written
 * to more than one of them is encoded once.
 */
export function encodeEntryTexts(entries: readonly LiveEntry[]): string[] {
  return entries.map((entry) => JSON.stringify(encodeEntry(entry)));
}

/**
 * A stored JSON array (the tail, the page list) with `added` (its new items' JSON, comma-separated) spliced in: the
 * same text `stateFields` gives for the whole new array. The commit script does the same in Lua; this is its reference.
 */
export function appendToArray(stored: string, added: string): string {
  if (stored === "" || stored === "[]") return `[${added}]`;
  return `${stored.slice(0, -1)},${added}]`;
}

/** The latest received_at among entries, or null when there are none. */
export function latestReceived(entries: readonly Pick<LiveEntry, "received_at">[]): number | null {
  let latest: number | null = null;
  for (const entry of entries) if (latest === null || entry.received_at > latest) latest = entry.received_at;
  return latest;
}

/**
 * The hash fields of a lead's fold state's scalars, whatever happens to the tail and pages (profile fields are
 * written apart, by the API).
 */
export function foldFields(
  lead: Pick<
    LiveLead,
    "score" | "stage" | "count" | "lastKey" | "reachedAt" | "lastEventAt" | "createdAt" | "updatedAt"
  >,
): LeadHash {
  return {
    score: String(lead.score),
    stage: lead.stage,
    count: String(lead.count),
    lastKey: lead.lastKey ?? "",
    reachedAt: lead.reachedAt === null ? "" : String(lead.reachedAt),
    lastEventAt: lead.lastEventAt === null ? "" : String(lead.lastEventAt),
    createdAt: String(lead.createdAt),
    updatedAt: String(lead.updatedAt),
  };
}

/** The tail's base as the hash stores it: `[score, count, reached_at, tally?, at?]`. */
export function encodeBase(base: LiveFoldState): string {
  const tally = encodeTally(base.tally);
  const at = base.at ?? null;
  if (at !== null) return JSON.stringify([base.score, base.count, base.reachedAt, tally, at]);
  return JSON.stringify(
    tally === "" ? [base.score, base.count, base.reachedAt] : [base.score, base.count, base.reachedAt, tally],
  );
}

/**
 * The tally and breakdown fields; an empty tally is left out (`tally: ""` clears a stored one), and so is the tally
 * `stored` when it is the very one read (a fold that changed no counter gives it back), as it is written already.
 */
export function tallyFields(lead: Pick<LiveLead, "tally" | "breakdown">, stored?: Tally): LeadHash {
  const breakdown = encodeBreakdown(lead.breakdown);
  if (lead.tally !== undefined && lead.tally === stored) return { breakdown };
  const tally = encodeTally(lead.tally);
  return { ...(tally !== "" && { tally }), breakdown };
}

/**
 * Every field of a lead's fold state; with `pages: null` all but the page list, whose new refs the commit script
 * splices into the stored one.
 */
export function stateFields(
  lead: Omit<LiveLead, keyof Profile | "id" | "version" | "stored" | "pages"> & {
    pages: PageRef[] | null;
  },
): LeadHash {
  const entries = encodeEntryTexts(lead.tail);
  const received = latestReceived(lead.tail);
  const fields: LeadHash = {
    ...foldFields(lead),
    // The array's JSON from its items' (as JSON.stringify gives it): the newest entry's text is the last of them.
    tail: `[${entries.join(",")}]`,
    base: encodeBase(lead.base),
    ...tallyFields(lead),
    newest: entries.at(-1) ?? "",
    tailReceivedMax: received === null ? "" : String(received),
  };
  if (lead.pages !== null) fields.pages = `[${encodePageRefs(lead.pages)}]`;
  return fields;
}

/**
 * The leaderboard's sort value: ascending order is score descending, then the earliest `score_reached_at` (never
 * reached sorts first, as MongoDB sorts null), then the lead id (Redis orders equal values by member). Both parts
 * share one exact double: the score takes the high bits, the time the low ones — to the millisecond while the cap
 * fits 10 bits (1000 does), coarser by a power of two per extra bit.
 */
export function rankKey(score: number, reachedAt: number | null, cap: number): number {
  const { shift, unit } = rankLayout(cap);
  return -clampScore(score, cap) * 2 ** shift + Math.floor((reachedAt ?? 0) / unit);
}

export function rankLayout(cap: number): { shift: number; unit: number } {
  const scoreBits = Math.max(1, Math.ceil(Math.log2(cap + 1)));
  const shift = 53 - scoreBits;
  return { shift, unit: 2 ** Math.max(0, 43 - shift) };
}

/** The `rankKey` range holding every lead whose score is in `[min, max]`. */
export function rankRange(min: number, max: number, cap: number): [number, number] {
  const { shift } = rankLayout(cap);
  return [-max * 2 ** shift, -min * 2 ** shift + (2 ** shift - 1)];
}

/** The score range of a stage. */
export function stageRange(stage: Stage, thresholds: StageThresholds, cap: number): [number, number] {
  const [warm, hot, qualified] = thresholds;
  switch (stage) {
    case "cold":
      return [0, warm - 1];
    case "warm":
      return [warm, hot - 1];
    case "hot":
      return [hot, qualified - 1];
    case "qualified":
      return [qualified, cap];
  }
}
