import { COLLECTIONS, type FoldState, type HistoryPageDocument } from "@leadscore/contracts";
import { decodePage, type LiveEntry, PAGE_SIZE, type PageRef, pageStarts } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import type { ExpensiveReads, ReadBudget } from "../../api/expensive-reads.ts";
import { intParam, parseParams, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema } from "./lead.ts";

export const HistoryQuerySchema = z.strictObject({
  order: z
    .enum(["desc", "asc"], { error: "must be desc or asc" })
    .default("desc")
    .describe("`desc`: newest event first; `asc`: oldest first. Event time, then event id."),
  limit: intParam(1, 200).default(50).describe("Page size."),
  cursor: CursorParamSchema.optional(),
});

/** Entries are numbered 1…count in event-time order; a page ends at the `seq` of its last entry. */
const HistoryCursorSchema = z.strictObject({
  o: z.enum(["desc", "asc"]),
  s: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
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
    points: z.number().int().describe("The rule's points when the event was first scored."),
    delta: z.number().int().describe("Change of the score, after clamping to [0, cap]."),
    score: z.number().int().describe("Score after this event."),
    reason: z.string(),
    rule_id: z.string().nullable(),
    late: z.boolean().describe("The event arrived after a newer event of the lead had been scored."),
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
  };
}

export const historyDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/history",
  operationId: "getLeadHistory",
  summary: "A lead's score history",
  description:
    "One entry per scored event, in event-time order (newest first unless `order=asc`), paged by position. The " +
    `newest ${PAGE_SIZE} to ${2 * PAGE_SIZE - 1} entries come from the lead's live state in Redis, so the first ` +
    `page of up to ${PAGE_SIZE} costs the same whatever the lead's or the system's size. Older entries are read ` +
    `from the lead's settled pages in MongoDB (about ${PAGE_SIZE} entries each) by \`_id\`: indexed on MongoDB, a scan ` +
    "of `history_pages` on the embedded store (FerretDB), whose cost grows with the pages stored. A late event " +
    "shifts the positions of the entries after it, so a page read across one may repeat an entry. A page that needs " +
    "the settled pages is an expensive read (one of `EXPENSIVE_READ_CONCURRENCY` slots, 503 with `Retry-After` when " +
    "all are taken; 503 past `EXPENSIVE_READ_TIMEOUT_MS`).",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  query: HistoryQuerySchema,
  responses: {
    200: { description: "One page of history entries.", schema: z.array(HistoryEntrySchema), headers: PAGE_HEADERS },
  },
  errors: ["NOT_FOUND", "SERVICE_UNAVAILABLE"],
};

export function historyRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pages = deps.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const cap = deps.config.SCORE_CAP;

  /** Entries `from`…`to` (1-based, inclusive) of the settled pages, oldest first. */
  async function settled(
    leadId: string,
    refs: PageRef[],
    from: number,
    to: number,
    budget: ReadBudget,
  ): Promise<LiveEntry[]> {
    const starts = pageStarts(refs);
    // The pages holding positions from…to: page n holds starts[n].count + 1 … starts[n + 1].count.
    const wanted = refs.flatMap(([id], n) =>
      (starts[n + 1] as FoldState).count >= from && (starts[n] as FoldState).count < to ? [{ id, n }] : [],
    );
    const docs =
      wanted.length === 0 ? [] : await budget.toArray(pages.find({ _id: { $in: wanted.map(({ id }) => id) } }));
    const byId = new Map(docs.map((doc) => [doc._id, doc]));
    const entries: LiveEntry[] = [];
    for (const { id, n } of wanted) {
      const doc = byId.get(id);
      if (!doc) throw new Error(`lead ${leadId}: history page ${id} missing`);
      for (const entry of decodePage(leadId, doc.entries, cap, starts[n] as FoldState)) {
        if (entry.seq >= from && entry.seq <= to) entries.push(entry);
      }
    }
    return entries;
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
    const lead = await deps.live.leadWithTail(id);
    if (lead === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    const count = lead.count;
    // The positions this page covers, oldest first.
    const [from, to] =
      query.order === "desc"
        ? [Math.max(1, (cursor?.s ?? count + 1) - query.limit), Math.min(count, (cursor?.s ?? count + 1) - 1)]
        : [Math.max(1, (cursor?.s ?? 0) + 1), Math.min(count, (cursor?.s ?? 0) + query.limit)];
    let entries: LiveEntry[] = [];
    if (from <= to) {
      const tailStart = lead.tail[0]?.seq ?? count + 1;
      // Older entries are read from MongoDB: an expensive read (a scan of the pages on the embedded store).
      const older =
        from < tailStart
          ? await reads.run((budget) => settled(id, lead.pages, from, Math.min(to, tailStart - 1), budget))
          : [];
      entries = [...older, ...lead.tail.filter((entry) => entry.seq >= from && entry.seq <= to)];
    }
    if (query.order === "desc") entries.reverse();
    const last = entries.at(-1);
    const more = last !== undefined && (query.order === "desc" ? last.seq > 1 : last.seq < count);
    setPageHeaders(c, more ? encodeCursor({ o: query.order, s: last.seq }) : null, count);
    return c.json(entries.map(toEntry));
  });
}
