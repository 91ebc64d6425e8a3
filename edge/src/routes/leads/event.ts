import { COLLECTIONS, type EventDocument, EventIdSchema } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema } from "./lead.ts";

const EventParamsSchema = LeadParamsSchema.extend({ event_id: EventIdSchema.describe("The event's id.") });

/** One stored event, as its lead's history links to it. */
export const StoredEventSchema = z
  .object({
    event_id: z.string(),
    lead_id: z.string(),
    event_type: z.string(),
    timestamp: z.iso.datetime(),
    received_at: z.iso.datetime(),
    metadata: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "StoredEvent" });
type StoredEvent = z.infer<typeof StoredEventSchema>;

export const leadEventDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/events/{event_id}",
  operationId: "getLeadEvent",
  summary: "One event of a lead, with its metadata",
  description:
    "The event as stored in MongoDB's `events` (the live state keeps no metadata), for a history entry opened in " +
    "the dashboard: one read by `_id`, indexed on MongoDB, a scan of `events` on the embedded store (FerretDB), so " +
    "it is read only when asked for, never on a hot path, and as an expensive read (one of " +
    "`EXPENSIVE_READ_CONCURRENCY` slots, 503 with `Retry-After` when all are taken; 503 past " +
    "`EXPENSIVE_READ_TIMEOUT_MS`). An event sent under an id since merged into another lead opens from either id; " +
    "its `lead_id` is the id it was sent with.",
  tag: "Leads",
  auth: "read",
  params: EventParamsSchema,
  responses: { 200: { description: "The event.", schema: StoredEventSchema } },
  errors: ["NOT_FOUND", "SERVICE_UNAVAILABLE"],
};

export function leadEventRoute(deps: AppDeps, reads: ExpensiveReads) {
  const events = deps.db.collection<EventDocument>(COLLECTIONS.events);
  /**
   * An event stays stored under the id it was sent with; once that id is merged, it belongs to the root's history,
   * so it opens from the root, from the merged id, and from any other id merged into the same root.
   */
  const sameLead = async (stored: string, asked: string) => {
    if (stored === asked) return true;
    // Each id resolves in its own lead partition's map (one partition: the same key twice).
    const [storedRoot, askedRoot] = await Promise.all(
      [stored, asked].map((id) => deps.redis.hget(deps.live.keysFor(id).aliases, id)),
    );
    return (storedRoot ?? stored) === (askedRoot ?? asked);
  };
  return new Hono().get("/:id/events/:event_id", async (c) => {
    const { id, event_id } = parseParams(c, EventParamsSchema);
    // A scan of `events` on the embedded store, so an expensive read.
    const doc = await reads.run((budget) => events.findOne({ _id: event_id }, { maxTimeMS: budget.remainingMs() }));
    if (doc === null || !(await sameLead(doc.lead_id, id))) {
      throw new ApiError("NOT_FOUND", `no event ${event_id} of lead ${id}`);
    }
    return c.json({
      event_id: doc._id,
      lead_id: doc.lead_id,
      event_type: doc.event_type,
      timestamp: new Date(doc.timestamp).toISOString(),
      received_at: new Date(doc.received_at).toISOString(),
      metadata: doc.metadata ?? {},
    } satisfies StoredEvent);
  });
}
