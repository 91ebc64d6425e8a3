import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import {
  checkWebhookUrl,
  DescriptionSchema,
  showWebhookWithSecret,
  WebhookEventsSchema,
  WebhookUrlSchema,
  WebhookWithSecretSchema,
} from "./webhook.ts";

export const CreateWebhookBodySchema = z
  .strictObject(
    { url: WebhookUrlSchema, events: WebhookEventsSchema, description: DescriptionSchema.optional() },
    { error: "must be a JSON object" },
  )
  .meta({ id: "WebhookInput" });

export const createWebhookDoc: RouteDoc = {
  method: "post",
  path: "/api/webhooks",
  operationId: "createWebhook",
  summary: "Subscribe a URL to lead changes",
  description:
    "Deliveries follow the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`), " +
    "signed with the secret returned here — and only here. Effective for every change committed after this answer.",
  tag: "Webhooks",
  auth: "admin",
  body: { schema: CreateWebhookBodySchema },
  responses: {
    201: {
      description: "Subscribed; keep the secret.",
      schema: WebhookWithSecretSchema,
      headers: { Location: "URL of the new webhook." },
    },
  },
  errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function createWebhookRoute(deps: AppDeps, store: WebhookStore) {
  return new Hono().post("/", async (c) => {
    const body = await parseJsonBody(c, CreateWebhookBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    checkWebhookUrl(deps, body.url);
    const subscription = await store.create(body);
    c.header("Location", `/api/webhooks/${subscription.id}`);
    return c.json(await showWebhookWithSecret(store, subscription), 201);
  });
}
