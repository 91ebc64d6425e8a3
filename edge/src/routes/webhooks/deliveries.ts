import { DELIVERY_STATUSES, type WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import { intParam, parseParams, parseQuery } from "../../api/query.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { DeliveryOutputSchema, found, toDelivery, WebhookParamsSchema } from "./webhook.ts";

export const DeliveriesQuerySchema = z.strictObject({
  status: z
    .enum(DELIVERY_STATUSES, { error: `must be one of ${DELIVERY_STATUSES.join(", ")}` })
    .optional()
    .describe(
      "Only deliveries in this state: pending (not yet delivered, retrying), delivered, failed (given up), dropped " +
        "(never sent: the subscription's backlog was at WEBHOOK_MAX_PENDING when the message came).",
    ),
  limit: intParam(1, 200).default(50).describe("Page size."),
  cursor: CursorParamSchema.optional(),
});

const DeliveriesCursorSchema = z.strictObject({ b: z.string().regex(/^\d{1,15}$/) });

export const listDeliveriesDoc: RouteDoc = {
  method: "get",
  path: "/api/webhooks/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  summary: "A webhook's delivery log",
  description:
    "Newest first, with every attempt's time, status code, latency and the first 1 KB of the answer. Pending " +
    "deliveries are always kept; of the settled ones (delivered, failed, dropped) the newest `WEBHOOK_LOG_SIZE` " +
    "(1,000).",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  query: DeliveriesQuerySchema,
  responses: {
    200: { description: "One page of deliveries.", schema: z.array(DeliveryOutputSchema), headers: PAGE_HEADERS },
  },
  errors: ["NOT_FOUND"],
};

export function listDeliveriesRoute(store: WebhookStore) {
  return new Hono().get("/:id/deliveries", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    const query = parseQuery(c, DeliveriesQuerySchema);
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor, DeliveriesCursorSchema).b;
    await found(store, id);
    const page = await store.deliveries(id, { status: query.status, limit: query.limit, before });
    setPageHeaders(c, page.next === null ? null : encodeCursor({ b: page.next }), page.total);
    return c.json(page.items.map(toDelivery));
  });
}
