import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { z } from "zod";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { showWebhooks, WebhookOutputSchema } from "./webhook.ts";

export const listWebhooksDoc: RouteDoc = {
  method: "get",
  path: "/api/webhooks",
  operationId: "listWebhooks",
  summary: "List webhook subscriptions",
  description: "Every subscription, oldest first; secrets are never shown again.",
  tag: "Webhooks",
  auth: "admin",
  responses: { 200: { description: "All subscriptions.", schema: z.array(WebhookOutputSchema) } },
};

export function listWebhooksRoute(store: WebhookStore) {
  return new Hono().get("/", async (c) => {
    parseQuery(c, NoQuerySchema);
    return c.json(await showWebhooks(store, await store.list()));
  });
}
