import {
  DELIVERY_STATUSES,
  type Delivery,
  deliveryBody,
  NO_STATUS,
  NOTICE_TYPES,
  NOTICES_KEPT,
  type Subscription,
  type SubscriptionStatus,
  WEBHOOK_EVENT_TYPES,
  type WebhookStore,
  webhookUrlProblem,
} from "@leadscore/webhooks";
import { z } from "zod";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";

export const WebhookParamsSchema = z.strictObject({
  id: z
    .string()
    .regex(/^wh_[a-f0-9]{24}$/, { error: "must be a webhook id (wh_ and 24 hex digits)" })
    .describe("The subscription's id."),
});

export const DeliveryParamsSchema = z.strictObject({
  id: WebhookParamsSchema.shape.id,
  delivery_id: z
    .string()
    .regex(/^\d{1,15}$/, { error: "must be a delivery id (digits)" })
    .describe("The delivery's id, from the delivery log."),
});

export const WebhookEventsSchema = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: `must be one of ${WEBHOOK_EVENT_TYPES.join(", ")}` }), {
    error: "must be an array of event types",
  })
  .min(1, { error: "must name at least one event type" })
  .describe(
    "`lead.stage_changed` (either direction), `lead.created`, `lead.score_changed` (every change: high volume), " +
      "`lead.merged` (an id merged into the lead: `{ from, into, score_before, score_after }`).",
  );

export const WebhookUrlSchema = z
  .string({ error: "must be a string" })
  .describe("Where deliveries are POSTed: http(s), no credentials; in production no private or loopback address.");

export const DescriptionSchema = z
  .string({ error: "must be a string" })
  .max(500, { error: "must be at most 500 characters" });

const isoDate = z.iso.datetime();
const isoOrNull = (ms: number | null | undefined) => (typeof ms === "number" ? new Date(ms).toISOString() : null);

export const WebhookNoticeSchema = z
  .object({
    type: z
      .enum(NOTICE_TYPES)
      .describe(
        "`webhook.disabled`: the dispatcher disabled the subscription (reason says why); `webhook.backlog_full`: " +
          "its backlog reached WEBHOOK_MAX_PENDING and new messages are being dropped; `webhook.backlog_resumed`: " +
          "it takes messages again, `dropped` of them were dropped meanwhile.",
      ),
    at: isoDate,
    reason: z.string(),
    dropped: z
      .number()
      .int()
      .optional()
      .describe("Messages dropped: 1 when the backlog filled, the episode's total when it resumed."),
  })
  .meta({ id: "WebhookNotice" });

export const WebhookOutputSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string(),
    active: z
      .boolean()
      .describe(
        "false: paused, or disabled by the dispatcher — after the receiver answered 410, or accepted nothing for " +
          "WEBHOOK_DISABLE_AFTER_MS (see disabled_reason).",
      ),
    disabled_reason: z.string().nullable(),
    disabled_at: isoDate.nullable().describe("When the dispatcher disabled it; null when it did not."),
    failing_since: isoDate
      .nullable()
      .describe(
        "The first failed attempt since the receiver's last success; null while it accepts deliveries. A failed " +
          "attempt WEBHOOK_DISABLE_AFTER_MS (3 days) or more after it disables the subscription.",
      ),
    last_success_at: isoDate.nullable().describe("The receiver's last 2xx answer."),
    pending: z.number().int().describe("Deliveries waiting (queued or retrying)."),
    dropped: z
      .number()
      .int()
      .describe(
        "Messages dropped because the backlog was at WEBHOOK_MAX_PENDING (100,000); each is in the delivery log " +
          "with status `dropped`, and a retry sends it.",
      ),
    notices: z
      .array(WebhookNoticeSchema)
      .describe(`What happened to the subscription, newest first (the last ${NOTICES_KEPT}).`),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "Webhook" });

export const WebhookWithSecretSchema = WebhookOutputSchema.extend({
  secret: z.string().describe("`whsec_` + base64 of 32 random bytes: the signing key. Shown only here."),
}).meta({ id: "WebhookWithSecret" });

export const AttemptSchema = z
  .object({
    at: isoDate,
    status_code: z.number().int().nullable().describe("null when no answer came (timeout, refused)."),
    latency_ms: z.number(),
    response: z.string().describe("The first 1 KB of the answer's body."),
    error: z.string().nullable(),
  })
  .meta({ id: "DeliveryAttempt" });

export const DeliveryOutputSchema = z
  .object({
    id: z.string(),
    webhook_id: z.string().describe("The `webhook-id` header: the same on every attempt."),
    type: z.string(),
    lead_id: z.string().nullable(),
    status: z.enum(DELIVERY_STATUSES),
    created_at: isoDate,
    next_attempt_at: isoDate.nullable(),
    attempts: z.array(AttemptSchema),
    payload: z.record(z.string(), z.unknown()).describe("The body sent."),
  })
  .meta({ id: "Delivery" });

function toWebhook(subscription: Subscription, status: SubscriptionStatus) {
  return {
    id: subscription.id,
    url: subscription.url,
    events: subscription.events,
    description: subscription.description,
    active: subscription.active,
    disabled_reason: subscription.disabled_reason,
    disabled_at: isoOrNull(subscription.disabled_at),
    failing_since: isoOrNull(status.failing_since),
    last_success_at: isoOrNull(status.last_success_at),
    pending: status.pending,
    dropped: status.dropped,
    notices: status.notices.map((notice) => ({ ...notice, at: new Date(notice.at).toISOString() })),
    created_at: new Date(subscription.created_at).toISOString(),
    updated_at: new Date(subscription.updated_at).toISOString(),
  };
}

/** Subscriptions as the API shows them: each with what the dispatcher has seen of it (one Redis round trip). */
export async function showWebhooks(store: WebhookStore, subscriptions: Subscription[]) {
  const statuses = await store.statuses(subscriptions.map((subscription) => subscription.id));
  return subscriptions.map((subscription) => toWebhook(subscription, statuses.get(subscription.id) ?? NO_STATUS));
}

export async function showWebhook(store: WebhookStore, subscription: Subscription) {
  const [shown] = await showWebhooks(store, [subscription]);
  return shown as ReturnType<typeof toWebhook>;
}

/** A subscription just created or given a new secret: the one time its secret is shown. */
export async function showWebhookWithSecret(store: WebhookStore, subscription: Subscription) {
  return { ...(await showWebhook(store, subscription)), secret: subscription.secret };
}

export function toDelivery(delivery: Delivery) {
  return {
    id: delivery.id,
    webhook_id: delivery.msg,
    type: delivery.type,
    lead_id: delivery.lead.startsWith("~") ? null : delivery.lead,
    status: delivery.status,
    created_at: new Date(delivery.created_at).toISOString(),
    next_attempt_at:
      delivery.status === "pending" && delivery.next_at ? new Date(delivery.next_at).toISOString() : null,
    attempts: delivery.attempts.map((attempt) => ({ ...attempt, at: new Date(attempt.at).toISOString() })),
    payload: JSON.parse(deliveryBody(delivery)) as Record<string, unknown>,
  };
}

/** Refuses a URL no delivery may go to (400 naming `url`). */
export function checkWebhookUrl(deps: AppDeps, url: string): void {
  const problem = webhookUrlProblem(url, deps.config.WEBHOOK_ALLOW_PRIVATE);
  if (problem) throw new ApiError("VALIDATION_FAILED", "invalid body", [{ path: "url", message: problem }]);
}

/** The subscription, or 404. */
export async function found(store: WebhookStore, id: string): Promise<Subscription> {
  const subscription = await store.get(id);
  if (!subscription) throw new ApiError("NOT_FOUND", `no webhook ${id}`);
  return subscription;
}
