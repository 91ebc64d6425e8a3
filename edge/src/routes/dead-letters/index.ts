// `GET /api/dead-letters`: the events the store refused and the worker set aside instead of scoring (see
// worker/src/store.ts). Rare by design, read by an operator: a read of MongoDB, off every hot path.
import { COLLECTIONS, type DeadLetterDocument, EventIdSchema } from "@leadscore/contracts";
import { Hono } from "hono";
import type { Filter } from "mongodb";
import { z } from "zod";
import { apiCors } from "../../api/cors.ts";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import { intParam, parseQuery } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";

export const DeadLettersQuerySchema = z.strictObject({
  limit: intParam(1, 200).default(50).describe("Page size."),
  cursor: CursorParamSchema.optional(),
});

const DeadLettersCursorSchema = z.strictObject({ a: z.number().int().min(0), i: EventIdSchema });

export const DeadLetterSchema = z
  .object({
    event_id: z.string(),
    lead_id: z.string(),
    event_type: z.string(),
    reason: z.string().describe("What the store answered when it refused the event."),
    at: z.iso.datetime().describe("When the worker set the event aside."),
    event: z
      .record(z.string(), z.unknown())
      .describe("The event as it was queued: `event_id, lead_id, event_type, timestamp, received_at, metadata`."),
  })
  .meta({ id: "DeadLetter" });
type DeadLetter = z.infer<typeof DeadLetterSchema>;

export const deadLettersDoc: RouteDoc = {
  method: "get",
  path: "/api/dead-letters",
  operationId: "listDeadLetters",
  summary: "Events the store refused",
  description:
    "Events accepted by an edge that the store then refused to insert (a limit of the store, such as nested arrays " +
    "on FerretDB 1.x, or a value the validation let through). The worker keeps each here, once, with the store's " +
    "reason, and scores every other event of its job; a dead-lettered event is not scored. Newest first.",
  tag: "Events",
  auth: "admin",
  query: DeadLettersQuerySchema,
  responses: {
    200: { description: "One page of dead letters.", schema: z.array(DeadLetterSchema), headers: PAGE_HEADERS },
  },
};

function toDeadLetter(doc: DeadLetterDocument): DeadLetter {
  return {
    event_id: doc._id,
    lead_id: doc.lead_id,
    event_type: doc.event_type,
    reason: doc.reason,
    at: new Date(doc.at).toISOString(),
    event: JSON.parse(doc.event) as Record<string, unknown>,
  };
}

export function deadLetterRoutes(deps: AppDeps) {
  const letters = deps.db.collection<DeadLetterDocument>(COLLECTIONS.deadLetters);
  return new Hono()
    .use("*", apiCors(deps.config))
    .use("*", requireAdmin(deps.config.ADMIN_TOKEN))
    .get("/", async (c) => {
      const query = parseQuery(c, DeadLettersQuerySchema);
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, DeadLettersCursorSchema);
      const filter: Filter<DeadLetterDocument> =
        after === undefined
          ? {}
          : { $or: [{ at: { $lt: new Date(after.a) } }, { at: new Date(after.a), _id: { $lt: after.i } }] };
      const [docs, total] = await Promise.all([
        letters
          .find(filter)
          .sort({ at: -1, _id: -1 })
          .limit(query.limit + 1)
          .toArray(),
        letters.countDocuments({}),
      ]);
      const page = docs.slice(0, query.limit);
      const last = page.at(-1);
      const next =
        docs.length > query.limit && last ? encodeCursor({ a: new Date(last.at).getTime(), i: last._id }) : null;
      setPageHeaders(c, next, total);
      return c.json(page.map(toDeadLetter));
    });
}
