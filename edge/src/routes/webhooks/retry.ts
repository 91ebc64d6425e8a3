import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { DeliveryOutputSchema, DeliveryParamsSchema, found, toDelivery } from "./webhook.ts";

export const retryDeliveryDoc: RouteDoc = {
  method: "post",
  path: "/api/webhooks/{id}/deliveries/{delivery_id}/retry",
  operationId: "retryWebhookDelivery",
  summary: "Send a delivery again now",
  description:
    "A pending delivery waiting for its next try is tried at once; a delivered or failed one is queued again, " +
    "ahead of its lead's later messages, with the same `webhook-id` and a new 24-hour retry window.",
  tag: "Webhooks",
  auth: "admin",
  params: DeliveryParamsSchema,
  responses: { 202: { description: "Queued; the log shows the attempt.", schema: DeliveryOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function retryDeliveryRoute(store: WebhookStore) {
  return new Hono().post("/:id/deliveries/:delivery_id/retry", async (c) => {
    const { id, delivery_id } = parseParams(c, DeliveryParamsSchema);
    await found(store, id);
    const delivery = await store.retry(id, delivery_id);
    if (!delivery) throw new ApiError("NOT_FOUND", `no delivery ${delivery_id} of webhook ${id}`);
    return c.json(toDelivery(delivery), 202);
  });
}
