import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { WebhookParamsSchema } from "./webhook.ts";

export const deleteWebhookDoc: RouteDoc = {
  method: "delete",
  path: "/api/webhooks/{id}",
  operationId: "deleteWebhook",
  summary: "Delete a webhook subscription",
  description: "Its queued deliveries and its delivery log go with it.",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  responses: { 204: { description: "Deleted." } },
  errors: ["NOT_FOUND"],
};

export function deleteWebhookRoute(store: WebhookStore) {
  return new Hono().delete("/:id", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    if (!(await store.remove(id))) throw new ApiError("NOT_FOUND", `no webhook ${id}`);
    return c.body(null, 204);
  });
}
