import { COLLECTIONS, type HistoryDocument, type LeadDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
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

const HistoryCursorSchema = z.strictObject({
  o: z.enum(["desc", "asc"]),
  k: z.string().min(1).max(200),
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

function toEntry(doc: HistoryDocument): HistoryEntry {
  return {
    event_id: doc.event_id,
    lead_id: doc.lead_id,
    event_type: doc.event_type,
    timestamp: doc.timestamp.toISOString(),
    received_at: doc.received_at.toISOString(),
    points: doc.points,
    delta: doc.delta,
    score: doc.score,
    reason: doc.reason,
    rule_id: doc.rule_id ?? null,
    late: doc.late === true,
  };
}

export const historyDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/history",
  operationId: "getLeadHistory",
  summary: "A lead's score history",
  description: "One entry per scored event, in event-time order (newest first unless `order=asc`), with keyset paging.",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  query: HistoryQuerySchema,
  responses: {
    200: { description: "One page of history entries.", schema: z.array(HistoryEntrySchema), headers: PAGE_HEADERS },
  },
  errors: ["NOT_FOUND"],
};

export function historyRoute(deps: AppDeps) {
  const history = deps.db.collection<HistoryDocument>(COLLECTIONS.history);
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
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
    const dir = query.order === "asc" ? 1 : -1;
    // `sort_key` is unique per lead (event time, then event id), so it alone is a complete keyset.
    const filter =
      cursor === null ? { lead_id: id } : { lead_id: id, sort_key: { [dir === 1 ? "$gt" : "$lt"]: cursor.k } };
    const [docs, total, lead] = await Promise.all([
      history
        .find(filter)
        .sort({ sort_key: dir })
        .limit(query.limit + 1)
        .toArray(),
      history.countDocuments({ lead_id: id }),
      leads.findOne({ _id: id }, { projection: { _id: 1 } }),
    ]);
    if (lead === null && total === 0) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    const more = docs.length > query.limit;
    const items = more ? docs.slice(0, query.limit) : docs;
    const last = items.at(-1);
    const next = more && last ? encodeCursor({ o: query.order, k: last.sort_key }) : null;
    setPageHeaders(c, next, total);
    return c.json(items.map(toEntry));
  });
}
