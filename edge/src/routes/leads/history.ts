import { COLLECTIONS, type FoldState, type HistoryPageDocument } from "@leadscore/contracts";
import {
  decodePage,
  type LiveEntry,
  type LiveLead,
  mergeRecords,
  PAGE_SIZE,
  type PageRef,
  pageStarts,
  readPendingPages,
  receivedAfterPages,
  rescoreRecords,
} from "@leadscore/live";
import { findByIds } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { intParam, parseParams, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { scoreNumber } from "../../openapi/score.ts";
import { type DecayHistoryEntry, deriveDecayEntries } from "./history-decay.ts";
import { deriveMergeEntries, type MergeHistoryEntry } from "./history-merge.ts";
import { deriveRescoreEntries, type RescoreHistoryEntry } from "./history-rescore.ts";
import { LeadParamsSchema } from "./lead.ts";
import { readResolved } from "./resolved.ts";

export const HistoryQuerySchema = z.strictObject({
  order: z
    .enum(["desc", "asc"], { error: "must be desc or asc" })
    .default("desc")
    .describe("`desc`: newest event first; `asc`: oldest first. Event time, then event id."),
  limit: intParam(1, 200).default(50).describe("Page size."),
  cursor: CursorParamSchema.optional(),
});

/**
 * A page ends at its last entry's sort key (event time, event id): the next page starts strictly after it in the
 * page's order. A key never changes, whereas a position shifts when a late event is slotted in before it.
 */
const HistoryCursorSchema = z.strictObject({
  o: z.enum(["desc", "asc"]),
  // A merge entry's id is `merge:` and the merged lead's id; a re-score entry's `rescore:` and its version, then,
  // for one a merge carried over, `:` and the merged lead's id.
  k: z.string().regex(/^\d{15}\|[A-Za-z0-9._:-]{1,160}$/),
});

const isoDate = z.iso.datetime();

/** One line of a lead's audit trail. */
export const HistoryEntrySchema = z
  .object({
    event_id: z.string(),
    lead_id: z.string(),
    event_type: z.string(),
    timestamp: isoDate.describe("Event time."),
    received_at: isoDate.describe("When the edge accepted the event."),
    points: z.number().int().describe("The points its rules asked when the event was first scored (their sum)."),
    delta: scoreNumber("Change of the score by the event, after clamping to [0, cap] (decay before it not counted)."),
    score: scoreNumber("Score after this event, at its time."),
    reason: z.string(),
    rule_id: z.string().nullable().describe("The first rule the event matched."),
    late: z.boolean().describe("The event arrived after a newer event of the lead had been scored."),
    rules_version: z
      .number()
      .int()
      .nullable()
      .describe(
        "The rule-set version it was scored with (null: v1 rules); on a re-score entry the version published. " +
          "Decay and merge entries score no event: null.",
      ),
    rules: z
      .array(
        z.object({
          rule_id: z.string(),
          group: z.string().nullable(),
          asked: z.number().int().describe("The rule's points."),
          given: scoreNumber("What it gave, after its limit, its group's max and the score's bounds."),
          cuts: z.array(z.string()).describe("Why `given` differs from `asked`, in clamping order."),
        }),
      )
      .describe("Every rule the event matched, in rule-set order; empty when none did."),
    cause: z
      .enum(["event", "decay", "merge", "rescore"])
      .describe(
        "`event`: a scored event's entry; `decay`: a stage crossing caused by time, derived, no event; `merge`: " +
          "another lead merged into this one (an identify, an admin merge), derived, no event; `rescore`: a " +
          "retroactive publish re-scored the lead and its score or stage moved, derived, no event.",
      ),
    merge: z
      .object({
        from: z.string().describe("The id merged into the lead."),
        events: z.number().int().describe("The events it brought (its own and those merged into it before)."),
        score_before: z
          .number()
          .int()
          .nullable()
          .describe("The lead's score just before the merge committed (null after a rebuild of the live state)."),
        score_after: z.number().int().nullable().describe("Its score just after (null after a rebuild)."),
      })
      .optional()
      .describe(
        "On a merge entry only. Its `score` is the history's at the merge's instant and its `delta` 0: the merged " +
          "events are slotted into the history in event time, as if the leads had always been one.",
      ),
    rescore: z
      .object({
        from_version: z
          .number()
          .int()
          .nullable()
          .describe("The newest version that had scored the lead's events before (null: v1 rules only)."),
        to_version: z.number().int().describe("The version published retroactively."),
        score_before: scoreNumber("The lead's score just before its re-score committed."),
        score_after: scoreNumber("Its score just after."),
        delta: scoreNumber("`score_after − score_before`: what the re-score changed."),
        stage_before: z.string(),
        stage_after: z.string(),
        merged_id: z
          .string()
          .optional()
          .describe(
            "The lead merged into this one since, whose re-score this was (its scores either side are that lead's); " +
              "absent for the lead's own.",
          ),
      })
      .optional()
      .describe(
        "On a re-score entry only. Its `score` is the history's at the re-score's instant and its `delta` 0: every " +
          "event entry already shows what the new version gives it, so the deltas still sum to the score.",
      ),
  })
  .meta({ id: "HistoryEntry" });
type HistoryEntry = z.infer<typeof HistoryEntrySchema>;

function toEntry(entry: LiveEntry): HistoryEntry {
  return {
    event_id: entry.event_id,
    lead_id: entry.lead_id,
    event_type: entry.event_type,
    timestamp: new Date(entry.timestamp).toISOString(),
    received_at: new Date(entry.received_at).toISOString(),
    points: entry.points,
    delta: entry.delta,
    score: entry.score,
    reason: entry.reason,
    rule_id: entry.rule_id,
    late: entry.late,
    rules_version: entry.rules_version,
    rules: entry.rules.map((rule) => ({ ...rule, cuts: [...rule.cuts] })),
    cause: "event",
  };
}

/** An entry derived at read time (no event): a stage crossing caused by time, a merge or a re-score. */
function toDerivedEntry(entry: DecayHistoryEntry, cause: "decay" | "merge" | "rescore"): HistoryEntry {
  const at = new Date(entry.timestamp).toISOString();
  return {
    event_id: entry.event_id,
    lead_id: entry.lead_id,
    event_type: cause,
    timestamp: at,
    received_at: at,
    points: 0,
    delta: 0,
    score: entry.score,
    reason: entry.reason,
    rule_id: null,
    late: false,
    rules_version: null,
    rules: [],
    cause,
  };
}

type PageEntry =
  | { event: LiveEntry; sort_key: string }
  | { decay: DecayHistoryEntry; sort_key: string }
  | { merge: MergeHistoryEntry; sort_key: string }
  | { rescore: RescoreHistoryEntry; sort_key: string };

function toHistoryEntry(entry: PageEntry): HistoryEntry {
  if ("event" in entry) return toEntry(entry.event);
  if ("decay" in entry) return toDerivedEntry(entry.decay, "decay");
  if ("rescore" in entry) {
    const { rescore } = entry.rescore;
    return { ...toDerivedEntry(entry.rescore, "rescore"), rules_version: rescore.to_version, rescore: { ...rescore } };
  }
  return { ...toDerivedEntry(entry.merge, "merge"), merge: { ...entry.merge.merge } };
}

export const historyDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/history",
  operationId: "getLeadHistory",
  summary: "A lead's score history",
  description:
    "One entry per scored event, in event-time order (newest first unless `order=asc`), paged by a cursor. With " +
    "score decay, each stage crossing caused by time is an entry too (`cause: decay`, derived at read time, not " +
    "counted in `X-Total-Count`). So is each merge of another lead into this one (`cause: merge`, at the instant " +
    "it committed, with what it brought and the scores either side of it), and each retroactive re-score that " +
    "moved the lead's score or stage (`cause: rescore`, at the instant it committed, naming the versions from and " +
    "to and the score and stage either side). The " +
    `newest ${PAGE_SIZE} to ${2 * PAGE_SIZE - 1} entries come from the lead's live state in Redis, so the first ` +
    `page of up to ${PAGE_SIZE} costs the same whatever the lead's or the system's size. Older entries are read ` +
    `from the lead's settled pages in MongoDB (about ${PAGE_SIZE} entries each), one lookup by \`_id\` per page, ` +
    "which both MongoDB and the embedded store serve from the `_id` index. The next page " +
    "starts strictly after the last entry's event time and id, so an event arriving late while a client pages " +
    "neither repeats nor skips an entry; the late one itself is listed only if it falls in a page still to come. A " +
    "page that needs the settled pages is an expensive read (one of `EXPENSIVE_READ_CONCURRENCY` slots, 503 with " +
    "`Retry-After` when all are taken; 503 past `EXPENSIVE_READ_TIMEOUT_MS`).",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  query: HistoryQuerySchema,
  responses: {
    200: { description: "One page of history entries.", schema: z.array(HistoryEntrySchema), headers: PAGE_HEADERS },
  },
  errors: ["NOT_FOUND"],
};

export function historyRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pages = deps.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const cap = deps.config.SCORE_CAP;

  /**
   * Reads settled pages by id, each at most once per request, one `_id` lookup each (`findByIds`: an `$in` is a scan
   * of the pages on the embedded store). Still an expensive read — a page that needs them waits on MongoDB, several
   * lookups of a few ms on a busy store — so each read takes one of the edge's slots.
   */
  function pageReader(leadId: string) {
    const read = new Map<string, HistoryPageDocument>();
    return async (ids: string[]): Promise<Map<string, HistoryPageDocument>> => {
      const missing = ids.filter((id) => !read.has(id));
      if (missing.length > 0) {
        const docs = await reads.run((budget) => findByIds(pages, missing, { budget }));
        for (const doc of docs) read.set(doc._id, doc);
        // A page named by a commit that landed a moment ago may not be in MongoDB yet: its writer holds it in Redis.
        const held = missing.filter((id) => !read.has(id));
        for (const doc of await readPendingPages(deps.redis, deps.live.keysFor(leadId), held)) read.set(doc._id, doc);
      }
      return read;
    };
  }
  type PageReader = ReturnType<typeof pageReader>;

  /**
   * The entries of page `n` of the lead's settled pages; `receivedAfter`, the earliest receipt after the page
   * (receivedAfterPages), completes their late flags.
   */
  async function pageEntries(
    leadId: string,
    refs: PageRef[],
    n: number,
    load: PageReader,
    receivedAfter?: number,
  ): Promise<LiveEntry[]> {
    const { id } = refs[n] as PageRef;
    const doc = (await load([id])).get(id);
    if (!doc) throw new Error(`lead ${leadId}: history page ${id} missing`);
    return decodePage(leadId, doc.entries, cap, pageStarts(refs)[n] as FoldState, receivedAfter);
  }

  /** Entries `from`…`to` (1-based, inclusive) of the settled pages, oldest first. */
  async function settled(lead: LiveLead, from: number, to: number, load: PageReader) {
    const refs = lead.pages;
    const starts = pageStarts(refs);
    const after = receivedAfterPages(refs, lead.tail);
    // The pages holding positions from…to: page n holds starts[n].count + 1 … starts[n + 1].count.
    const wanted = refs.flatMap((_, n) =>
      (starts[n + 1] as FoldState).count >= from && (starts[n] as FoldState).count < to ? [n] : [],
    );
    await load(wanted.map((n) => (refs[n] as PageRef).id));
    const entries: LiveEntry[] = [];
    for (const n of wanted) {
      for (const entry of await pageEntries(lead.id, refs, n, load, after[n])) {
        if (entry.seq >= from && entry.seq <= to) entries.push(entry);
      }
    }
    return entries;
  }

  /**
   * How many of the lead's entries sort before `key`, and whether one has that key: from the tail when the key is
   * in its range, otherwise from the one settled page whose range holds it (the last whose first key is not after it).
   */
  async function position(lead: LiveLead, key: string, load: PageReader): Promise<{ before: number; at: boolean }> {
    const tailStart = lead.tail[0];
    let entries: LiveEntry[];
    let base: number;
    if (tailStart !== undefined && key >= tailStart.sort_key) {
      [entries, base] = [lead.tail, tailStart.seq - 1];
    } else {
      const n = lead.pages.findLastIndex((ref) => ref.firstKey <= key);
      if (n < 0) return { before: 0, at: false };
      [entries, base] = [
        await pageEntries(lead.id, lead.pages, n, load),
        (pageStarts(lead.pages)[n] as FoldState).count,
      ];
    }
    const before = entries.filter((entry) => entry.sort_key < key).length;
    return { before: base + before, at: entries.some((entry) => entry.sort_key === key) };
  }

  return new Hono().get("/:id/history", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const query = parseQuery(c, HistoryQuerySchema);
    const cursor =
      query.cursor === undefined
        ? null
        : decodeCursor(
            query.cursor,
            HistoryCursorSchema.refine((position) => position.o === query.order),
          );
    // The merge and re-score logs are read beside the lead (again, for the lead an id merged away resolves to).
    const logsOf = (leadId: string) =>
      Promise.all([
        mergeRecords(deps.redis, deps.live.keysFor(leadId), leadId),
        rescoreRecords(deps.redis, deps.live.keysFor(leadId), leadId),
      ]);
    const [{ leadId, value: lead }, ownLogs] = await Promise.all([
      readResolved(deps, c, id, (leadId) => deps.live.leadWithTail(leadId)),
      logsOf(id),
    ]);
    const [merges, rescores] = leadId === id ? ownLogs : await logsOf(leadId);
    const count = lead.count;
    const load = pageReader(leadId);
    // The positions this page covers, oldest first: after the cursor's key (before it, descending), wherever late
    // events have moved that key since.
    let from: number;
    let to: number;
    if (query.order === "desc") {
      const end = cursor === null ? count : (await position(lead, cursor.k, load)).before;
      [from, to] = [Math.max(1, end - query.limit + 1), end];
    } else {
      const at = cursor === null ? { before: 0, at: false } : await position(lead, cursor.k, load);
      const start = at.before + (at.at ? 1 : 0) + 1;
      [from, to] = [start, Math.min(count, start + query.limit - 1)];
    }
    /** Event entries `lo`…`hi` (1-based, inclusive), oldest first. */
    const eventsIn = async (lo: number, hi: number): Promise<LiveEntry[]> => {
      if (lo > hi) return [];
      const tailStart = lead.tail[0]?.seq ?? count + 1;
      const older = lo < tailStart ? await settled(lead, lo, Math.min(hi, tailStart - 1), load) : [];
      return [...older, ...lead.tail.filter((entry) => entry.seq >= lo && entry.seq <= hi)];
    };
    const halfLife = deps.scoring?.halfLife() ?? null;
    let entries: PageEntry[];
    let more: boolean;
    if (halfLife === null && merges.length === 0 && rescores.length === 0) {
      entries = (await eventsIn(from, to)).map((event) => ({ event, sort_key: event.sort_key }));
      if (query.order === "desc") entries.reverse();
      const last = entries.at(-1);
      more =
        last !== undefined && "event" in last && (query.order === "desc" ? last.event.seq > 1 : last.event.seq < count);
    } else {
      // The events either side of the page bound the decay entries it shows: the crossings after the one before it
      // (which follow the cursor), and none at or past the one after it (the next page's).
      const span = await eventsIn(Math.max(1, from - 1), Math.min(count, to + 1));
      // Decay, merge and re-score entries, derived.
      const derived: PageEntry[] = [
        ...(halfLife === null
          ? []
          : deriveDecayEntries(span, {
              halfLifeSeconds: halfLife,
              thresholds: deps.config.STAGE_THRESHOLDS,
              cap,
              count,
              until: deps.now?.() ?? Date.now(),
            })
        ).map((decay) => ({ decay, sort_key: decay.sort_key })),
        ...deriveMergeEntries(lead.id, span, merges, { count, halfLifeSeconds: halfLife }).map((merge) => ({
          merge,
          sort_key: merge.sort_key,
        })),
        ...deriveRescoreEntries(lead.id, span, rescores, { count, halfLifeSeconds: halfLife }).map((rescore) => ({
          rescore,
          sort_key: rescore.sort_key,
        })),
      ];
      const before = span.find((event) => event.seq === from - 1)?.sort_key;
      const after = span.find((event) => event.seq === to + 1)?.sort_key;
      const [low, high] = query.order === "desc" ? [before, cursor?.k] : [cursor?.k, after];
      const all: PageEntry[] = [
        ...span
          .filter((event) => event.seq >= from && event.seq <= to)
          .map((event) => ({ event, sort_key: event.sort_key })),
        ...derived,
      ]
        .filter((entry) => (low === undefined || entry.sort_key > low) && (high === undefined || entry.sort_key < high))
        .sort((a, b) => (a.sort_key < b.sort_key ? -1 : a.sort_key > b.sort_key ? 1 : 0));
      if (query.order === "desc") all.reverse();
      entries = all.slice(0, query.limit);
      more = all.length > query.limit || (query.order === "desc" ? from > 1 : to < count);
    }
    const last = entries.at(-1);
    setPageHeaders(c, more && last ? encodeCursor({ o: query.order, k: last.sort_key }) : null, count);
    return c.json(entries.map(toHistoryEntry));
  });
}
