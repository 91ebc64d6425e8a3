// How a lead's live state is laid out in its Redis hash, and the compact form of its history entries.
//
// Hash fields (all strings; an absent field reads as its empty value):
//   s score · st stage · n events folded · k newest sort key · r score_reached_at (ms) · le last_event_at (ms)
//   v version · ca created_at (ms) · ua updated_at (ms) · name · email · company
//   t the tail: the newest history entries, oldest first, as a JSON array of compact entries
//   b the fold state just before the tail's first entry: [score, count, reached_at | null]
//   pg ids of the history pages in MongoDB (oldest first), JSON array; page i holds entries PAGE_SIZE·i+1 …
//   ne the newest entry (what a subscribe snapshot shows)
//   rx the latest received_at in the tail: an append of events all received since then marks no tail entry late,
//      so the worker appends to `t` without decoding it
//   pe the score at the end of some of the pages, `[page, timestamp, score]`: with the tail, the lead's score chart
//      over its whole history in at most SERIES_PAGE_POINTS + TAIL_SPILL_AT points (see keepPageEnds)
import {
  clampScore,
  type FoldState,
  type HistoryEntry,
  reasonFor,
  type ScorableEvent,
  type Stage,
  type StageThresholds,
  sortKey,
  stageFor,
} from "@leadscore/contracts";

/** Entries per history page in MongoDB; the tail holds between one and two pages' worth once a lead has that many. */
export const PAGE_SIZE = 50;
/** The tail spills its oldest PAGE_SIZE entries into a page once it reaches this many. */
export const TAIL_SPILL_AT = 2 * PAGE_SIZE;

/** Most page ends a lead keeps for its score chart. */
export const SERIES_PAGE_POINTS = 64;

/**
 * `[page, timestamp, score]`: a lead's score after the last entry of one of its pages; page -1 is its first entry,
 * where the chart of a lead with pages starts (kept whatever the stride).
 */
export type PageEnd = [number, number, number];

/** The chart's first point: the lead's first history entry. */
export function firstPoint(entry: { timestamp: number; score: number }): PageEnd {
  return [-1, entry.timestamp, entry.score];
}

/**
 * The page ends kept out of `pageCount` pages: every `stride`-th page, the stride the smallest power of two that keeps
 * at most SERIES_PAGE_POINTS of them, plus the last page. A function of the page count alone, so keeping the ends
 * as pages spill one by one gives what a rebuild gives for all at once.
 */
export function keepPageEnds(ends: readonly PageEnd[], pageCount: number): PageEnd[] {
  let stride = 1;
  while (Math.ceil(pageCount / stride) > SERIES_PAGE_POINTS - 1) stride *= 2;
  return ends.filter(([n]) => (n + 1) % stride === 0 || n === pageCount - 1);
}

/** `[timestamp, score]` points of a lead's score over its whole history, oldest first. */
export function scoreSeries(lead: Pick<LiveLead, "pageEnds" | "tail">): [number, number][] {
  return [
    ...lead.pageEnds.map(([, timestamp, score]): [number, number] => [timestamp, score]),
    ...lead.tail.map((entry): [number, number] => [entry.timestamp, entry.score]),
  ];
}

/** `[event_id, event_type, timestamp, received_at, points, rule_id, delta, score, seq, score_reached_at, late]` */
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
];

/** `[event_id, event_type, timestamp, received_at, points, rule_id]`: an event with its points fixed. */
export type CompactEvent = [string, string, number, number, number, string | null];

/** A history entry as the live state keeps it: the fold's entry plus whether its event arrived late. */
export interface LiveEntry extends HistoryEntry {
  late: boolean;
}

export function encodeEntry(entry: LiveEntry): CompactEntry {
  return [
    entry.event_id,
    entry.event_type,
    entry.timestamp,
    entry.received_at,
    entry.points,
    entry.rule_id,
    entry.delta,
    entry.score,
    entry.seq,
    entry.score_reached_at,
    entry.late ? 1 : 0,
  ];
}

export function decodeEntry(leadId: string, compact: CompactEntry, cap: number): LiveEntry {
  const [event_id, event_type, timestamp, received_at, points, rule_id, delta, score, seq, reached, late] = compact;
  const entry = {
    event_id,
    lead_id: leadId,
    event_type,
    timestamp,
    received_at,
    points,
    rule_id,
    delta,
    score,
    reason: "",
    sort_key: sortKey(timestamp, event_id),
    seq,
    score_reached_at: reached,
    late: late === 1,
  };
  entry.reason = reasonFor(entry, cap);
  return entry;
}

/** A history page's entries as stored in MongoDB (`HistoryPageDocument.entries`). */
export function encodePage(entries: LiveEntry[]): string {
  return JSON.stringify(entries.map(encodeEntry));
}

export function decodePage(leadId: string, page: string, cap: number): LiveEntry[] {
  return (JSON.parse(page) as CompactEntry[]).map((entry) => decodeEntry(leadId, entry, cap));
}

export function encodeEvent(event: ScorableEvent): CompactEvent {
  return [event.event_id, event.event_type, event.timestamp, event.received_at, event.points, event.rule_id];
}

/** The event of a compact event, or of a compact entry (whose first fields are its event's). */
export function decodeEvent(leadId: string, compact: CompactEvent | CompactEntry): ScorableEvent {
  const [event_id, event_type, timestamp, received_at, points, rule_id] = compact;
  return { event_id, lead_id: leadId, event_type, timestamp, received_at, points, rule_id };
}

/** The event an entry scored (its points as fixed then). */
export function entryEvent(entry: HistoryEntry): ScorableEvent {
  return {
    event_id: entry.event_id,
    lead_id: entry.lead_id,
    event_type: entry.event_type,
    timestamp: entry.timestamp,
    received_at: entry.received_at,
    points: entry.points,
    rule_id: entry.rule_id,
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
  /** Fold state just before `tail[0]`. */
  base: FoldState;
  /** Ids of the history pages in MongoDB, oldest first. */
  pages: string[];
  /** The score at the end of some pages, for the chart (see keepPageEnds). */
  pageEnds: PageEnd[];
  /**
   * What an append needs, when the lead was read from Redis: the tail's latest received_at and, when it was read
   * (LEAD_FIELDS; not PLAN_FIELDS), the tail as stored.
   */
  stored?: { tail: string | null; tailReceivedMax: number | null };
}

/** Every field a lead's state is decoded from; `t` is the large one, and the last. */
export const LEAD_FIELDS = [
  "s",
  "st",
  "n",
  "k",
  "r",
  "le",
  "v",
  "ca",
  "ua",
  "name",
  "email",
  "company",
  "b",
  "pg",
  "pe",
  "rx",
  "t",
] as const;
/**
 * What the worker plans a round from: everything but the tail, which an append never needs (the commit script
 * appends to it); a lead that needs its tail has it read apart (`withTail`).
 */
export const PLAN_FIELDS = LEAD_FIELDS.slice(0, -1);
/** Fields for a lead without its tail (lists, detail). */
export const SUMMARY_FIELDS = ["s", "st", "n", "k", "r", "le", "v", "ca", "ua", "name", "email", "company"] as const;

const num = (value: string | null | undefined, fallback = 0) => (value ? Number(value) : fallback);
const numOrNull = (value: string | null | undefined) => (value ? Number(value) : null);
const textOrNull = (value: string | null | undefined) => (value ? value : null);

/**
 * Decodes HMGET replies of LEAD_FIELDS, PLAN_FIELDS or SUMMARY_FIELDS; null when the lead has no live state at all.
 * With SUMMARY_FIELDS the tail, base and pages read as empty; with PLAN_FIELDS reading the tail is an error until
 * `withTail` gives it. The tail, the pages and their ends are decoded when first read: an append needs none of them.
 */
export function decodeLead(
  leadId: string,
  values: (string | null)[],
  cap: number,
  thresholds: StageThresholds,
): LiveLead | null {
  const [s, st, n, k, r, le, v, ca, ua, name, email, company, b, pg, pe, rx, t] = values;
  if (v === null || v === undefined) return null;
  const planned = values.length === PLAN_FIELDS.length;
  const score = num(s);
  const baseRaw = b ? (JSON.parse(b) as [number, number, number | null]) : [0, 0, null];
  let tail: LiveEntry[] | undefined;
  let pages: string[] | undefined;
  let pageEnds: PageEnd[] | undefined;
  return {
    id: leadId,
    score,
    stage: (st as Stage | null) ?? stageFor(score, thresholds),
    count: num(n),
    lastKey: k ? k : null,
    reachedAt: numOrNull(r),
    lastEventAt: numOrNull(le),
    version: num(v),
    createdAt: num(ca),
    updatedAt: num(ua),
    name: textOrNull(name),
    email: textOrNull(email),
    company: textOrNull(company),
    get tail() {
      if (planned) throw new Error(`lead ${leadId} was read without its tail`);
      tail ??= t ? (JSON.parse(t) as CompactEntry[]).map((entry) => decodeEntry(leadId, entry, cap)) : [];
      return tail;
    },
    base: { score: baseRaw[0] ?? 0, count: baseRaw[1] ?? 0, reachedAt: baseRaw[2] ?? null },
    get pages() {
      pages ??= pg ? (JSON.parse(pg) as string[]) : [];
      return pages;
    },
    get pageEnds() {
      pageEnds ??= pe ? (JSON.parse(pe) as PageEnd[]) : [];
      return pageEnds;
    },
    stored: rx === undefined ? undefined : { tail: planned ? null : (t ?? ""), tailReceivedMax: numOrNull(rx) },
  };
}

/** A lead read with PLAN_FIELDS, completed with its tail (HGET of `t`). */
export function withTail(
  lead: LiveLead,
  values: (string | null)[],
  tail: string | null,
  cap: number,
  thresholds: StageThresholds,
): LiveLead {
  return decodeLead(lead.id, [...values, tail], cap, thresholds) as LiveLead;
}

/** Entries to append to a stored tail: their compact forms, comma-separated (what the commit script splices in). */
export function encodeAppend(entries: readonly LiveEntry[]): string {
  return entries.map((entry) => JSON.stringify(encodeEntry(entry))).join(",");
}

/**
 * The stored tail with `added` (encodeAppend) spliced in: the same text `stateFields` gives for the whole new tail.
 * The commit script does the same in Lua; this is its reference.
 */
export function appendToTail(stored: string, added: string): string {
  if (stored === "" || stored === "[]") return `[${added}]`;
  return `${stored.slice(0, -1)},${added}]`;
}

/** The latest received_at among entries, or null when there are none. */
export function latestReceived(entries: readonly Pick<LiveEntry, "received_at">[]): number | null {
  let latest: number | null = null;
  for (const entry of entries) if (latest === null || entry.received_at > latest) latest = entry.received_at;
  return latest;
}

/** The hash fields of a lead's fold state (profile fields are written apart, by the API). */
/** The fold state's scalar fields, whatever happens to the tail and pages. */
export function foldFields(
  lead: Pick<
    LiveLead,
    "score" | "stage" | "count" | "lastKey" | "reachedAt" | "lastEventAt" | "createdAt" | "updatedAt"
  >,
): Record<string, string> {
  return {
    s: String(lead.score),
    st: lead.stage,
    n: String(lead.count),
    k: lead.lastKey ?? "",
    r: lead.reachedAt === null ? "" : String(lead.reachedAt),
    le: lead.lastEventAt === null ? "" : String(lead.lastEventAt),
    ca: String(lead.createdAt),
    ua: String(lead.updatedAt),
  };
}

export function stateFields(lead: Omit<LiveLead, keyof Profile | "id" | "version" | "stored">): Record<string, string> {
  const newest = lead.tail.at(-1);
  const received = latestReceived(lead.tail);
  return {
    ...foldFields(lead),
    t: JSON.stringify(lead.tail.map(encodeEntry)),
    b: JSON.stringify([lead.base.score, lead.base.count, lead.base.reachedAt]),
    pg: JSON.stringify(lead.pages),
    pe: JSON.stringify(lead.pageEnds),
    ne: newest ? JSON.stringify(encodeEntry(newest)) : "",
    rx: received === null ? "" : String(received),
  };
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
