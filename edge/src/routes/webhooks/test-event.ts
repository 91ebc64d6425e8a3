import { TEST_EVENT_TYPE, type WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { DeliveryOutputSchema, found, toDelivery, WebhookParamsSchema } from "./webhook.ts";

export const testEventDoc: RouteDoc = {
  method: "post",
  path: "/api/webhooks/{id}/test",
  operationId: "sendWebhookTestEvent",
  summary: "Send a test event",
  description:
    `Queues a \`${TEST_EVENT_TYPE}\` message (data: \`{ message }\`) to this subscription, signed and retried like ` +
    "any other, even while it is paused; the delivery log shows how the receiver answered.",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  responses: { 202: { description: "Queued.", schema: DeliveryOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function testEventRoute(store: WebhookStore) {
  return new Hono().post("/:id/test", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    await found(store, id);
    return c.json(toDelivery(await store.sendTest(id)), 202);
  });
}
