import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { found, showWebhook, WebhookOutputSchema, WebhookParamsSchema } from "./webhook.ts";

export const getWebhookDoc: RouteDoc = {
  method: "get",
  path: "/api/webhooks/{id}",
  operationId: "getWebhook",
  summary: "One webhook subscription",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  responses: { 200: { description: "The subscription (without its secret).", schema: WebhookOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getWebhookRoute(store: WebhookStore) {
  return new Hono().get("/:id", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    return c.json(await showWebhook(store, await found(store, id)));
  });
}
