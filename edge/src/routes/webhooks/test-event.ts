import { TEST_EVENT_TYPE, type WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { DeliveryOutputSchema, found, toDelivery, WebhookParamsSchema } from "./webhook.ts";

export const testEventDoc: RouteDoc = {
  method: "post",
  path: "/api/webhooks/{id}/test",
  operationId: "sendWebhookTestEvent",
  summary: "Send a test event",
  description:
    `Queues a \`${TEST_EVENT_TYPE}\` message (data: \`{ message }\`) to this subscription, signed and retried like ` +
    "any other; the delivery log shows how the receiver answered. A paused or disabled subscription sends nothing, " +
    "so a test of one is refused with 409 `SUBSCRIPTION_PAUSED` and nothing is recorded: enable it first.",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  responses: { 202: { description: "Queued.", schema: DeliveryOutputSchema } },
  errors: ["NOT_FOUND", "SUBSCRIPTION_PAUSED"],
};

export function testEventRoute(store: WebhookStore) {
  return new Hono().post("/:id/test", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    const subscription = await found(store, id);
    if (!subscription.active) {
      const why = subscription.disabled_reason === null ? "paused" : `disabled (${subscription.disabled_reason})`;
      throw new ApiError("SUBSCRIPTION_PAUSED", `webhook ${id} is ${why}: enable it (active: true) to send a test`);
    }
    return c.json(toDelivery(await store.sendTest(id)), 202);
  });
}
