import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { showWebhookWithSecret, WebhookParamsSchema, WebhookWithSecretSchema } from "./webhook.ts";

export const rotateSecretDoc: RouteDoc = {
  method: "post",
  path: "/api/webhooks/{id}/rotate-secret",
  operationId: "rotateWebhookSecret",
  summary: "Replace a webhook's signing secret",
  description:
    "Requests sent from a second after (dispatchers re-read subscriptions every second), retries included, are " +
    "signed with the new secret, shown only here.",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  responses: { 200: { description: "The subscription with its new secret.", schema: WebhookWithSecretSchema } },
  errors: ["NOT_FOUND"],
};

export function rotateSecretRoute(store: WebhookStore) {
  return new Hono().post("/:id/rotate-secret", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    const rotated = await store.rotateSecret(id);
    if (!rotated) throw new ApiError("NOT_FOUND", `no webhook ${id}`);
    return c.json(await showWebhookWithSecret(store, rotated));
  });
}
