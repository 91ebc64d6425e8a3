import type { WebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import {
  checkWebhookUrl,
  DescriptionSchema,
  showWebhook,
  WebhookEventsSchema,
  WebhookOutputSchema,
  WebhookParamsSchema,
  WebhookUrlSchema,
} from "./webhook.ts";

export const UpdateWebhookBodySchema = z
  .strictObject(
    {
      url: WebhookUrlSchema.optional(),
      events: WebhookEventsSchema.optional(),
      description: DescriptionSchema.optional(),
      active: z
        .boolean({ error: "must be true or false" })
        .optional()
        .describe(
          "false pauses deliveries (they wait); true resumes them, also after the dispatcher disabled the " +
            "subscription (a 410, or no success for WEBHOOK_DISABLE_AFTER_MS), and starts its failing time again.",
        ),
    },
    { error: "must be a JSON object" },
  )
  .refine((body) => Object.keys(body).length > 0, {
    error: "must change at least one of url, events, description, active",
    when: (payload) => payload.issues.length === 0,
  })
  .meta({ id: "WebhookChange" });

export const updateWebhookDoc: RouteDoc = {
  method: "put",
  path: "/api/webhooks/{id}",
  operationId: "updateWebhook",
  summary: "Change, pause or resume a webhook subscription",
  description:
    "While paused (`active: false`) no new change is queued for it and queued deliveries wait; resuming sends " +
    "them, in order.",
  tag: "Webhooks",
  auth: "admin",
  params: WebhookParamsSchema,
  body: { schema: UpdateWebhookBodySchema },
  responses: { 200: { description: "The updated subscription.", schema: WebhookOutputSchema } },
  errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function updateWebhookRoute(deps: AppDeps, store: WebhookStore) {
  return new Hono().put("/:id", async (c) => {
    const { id } = parseParams(c, WebhookParamsSchema);
    const body = await parseJsonBody(c, UpdateWebhookBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    if (body.url !== undefined) checkWebhookUrl(deps, body.url);
    const updated = await store.update(id, body);
    if (!updated) throw new ApiError("NOT_FOUND", `no webhook ${id}`);
    return c.json(await showWebhook(store, updated));
  });
}
