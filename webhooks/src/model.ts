// What a webhook subscription and a delivery are, as stored in Redis and as the API shows them. Web APIs only: the
// edge imports this package.
import { outboxKeys } from "@leadscore/live";

export const WEBHOOK_EVENT_TYPES = ["lead.stage_changed", "lead.created", "lead.score_changed", "lead.merged"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** The type of the message "send test event" delivers. */
export const TEST_EVENT_TYPE = "webhook.test";

export interface Subscription {
  id: string;
  url: string;
  events: WebhookEventType[];
  description: string;
  active: boolean;
  /** `whsec_` + base64 of 32 random bytes; shown to the API only when created or rotated. */
  secret: string;
  created_at: number;
  updated_at: number;
  /** Why the dispatcher disabled it (a 410 answer, or no success for WEBHOOK_DISABLE_AFTER_MS); null when it was not. */
  disabled_reason: string | null;
  /** Epoch ms the dispatcher disabled it; null when it did not (absent in subscriptions stored before it existed). */
  disabled_at?: number | null;
}

/** What the dispatcher has seen of a subscription's receiver, and what it had to drop (kept beside the subscription). */
export interface SubscriptionStatus {
  /** Epoch ms of the first failed attempt since the last success; null while the receiver accepts deliveries. */
  failing_since: number | null;
  last_success_at: number | null;
  /** Deliveries waiting (queued or retrying). */
  pending: number;
  /** Messages dropped since the subscription was created because its backlog was at WEBHOOK_MAX_PENDING. */
  dropped: number;
  /** What happened to the subscription itself, newest first (the last NOTICES_KEPT). */
  notices: Notice[];
}

export const NOTICE_TYPES = ["webhook.disabled", "webhook.backlog_full", "webhook.backlog_resumed"] as const;
export type NoticeType = (typeof NOTICE_TYPES)[number];

/** One thing that happened to a subscription: disabled, its backlog full (messages dropped) or taking messages again. */
export interface Notice {
  type: NoticeType;
  /** Epoch ms. */
  at: number;
  reason: string;
  /** Messages dropped: so far when the backlog filled (1), in the whole episode when it resumed. */
  dropped?: number;
}

/** Notices kept per subscription. */
export const NOTICES_KEPT = 50;

export const NO_STATUS: SubscriptionStatus = {
  failing_since: null,
  last_success_at: null,
  pending: 0,
  dropped: 0,
  notices: [],
};

export type DeliveryStatus = "pending" | "delivered" | "failed" | "dropped";
/** `dropped`: never sent, because the subscription's backlog was at its bound when the message came (see docs). */
export const DELIVERY_STATUSES = ["pending", "delivered", "failed", "dropped"] as const;

export interface Attempt {
  /** Epoch ms the request was sent. */
  at: number;
  /** HTTP status, or null when none came (timeout, refused connection). */
  status_code: number | null;
  latency_ms: number;
  /** The first 1 KB of the answer's body. */
  response: string;
  /** What went wrong without an HTTP answer. */
  error: string | null;
}

/** One message to one subscription: what was committed, where it stands, every attempt. */
export interface Delivery {
  /** Sequence number, unique within the deployment; the log's order. */
  id: string;
  /** The `webhook-id` header: stable across retries (and the same for every subscription of one message). */
  msg: string;
  type: WebhookEventType | typeof TEST_EVENT_TYPE;
  lead: string;
  /** Fields of the committed change (empty strings where they do not apply). */
  from: string;
  to: string;
  score: string;
  prev: string;
  event: string;
  etype: string;
  rank: string;
  /** Epoch ms of the commit (the body's `timestamp`). */
  at: number;
  status: DeliveryStatus;
  created_at: number;
  /** Start of the current retry window (first attempt, or the last manual retry). */
  round_at: number | null;
  /** Failed attempts in the current window. */
  tries: number;
  next_at: number | null;
  attempts: Attempt[];
}

export interface WebhookKeys {
  /** id → JSON Subscription. */
  subscriptions: string;
  /** Sequence of delivery ids. */
  seq: string;
  outbox: string;
  wants: string;
  /**
   * Base of one subscription's keys: `<base>:d` deliveries, `:q` queue, `:ready`, `:inflight`, logs by status,
   * `:health` (failing_since, last_success_at, dropped, and the start and count of a dropping episode), `:notices`.
   */
  subscription(id: string): string;
  /** Prefix the scripts append a subscription id to. */
  subscriptionPrefix: string;
}

export function webhookKeys(redisPrefix: string): WebhookKeys {
  const base = `${redisPrefix}:webhooks`;
  const outbox = outboxKeys(redisPrefix);
  return {
    subscriptions: `${base}:subscriptions`,
    seq: `${base}:seq`,
    outbox: outbox.stream,
    wants: outbox.wants,
    subscription: (id) => `${base}:s:${id}`,
    subscriptionPrefix: `${base}:s:`,
  };
}

/** A stored delivery as parsed from its JSON (Lua's cjson writes an empty array as `{}`). */
export function parseDelivery(json: string): Delivery {
  const delivery = JSON.parse(json) as Delivery;
  if (!Array.isArray(delivery.attempts)) delivery.attempts = [];
  if (typeof delivery.round_at !== "number") delivery.round_at = null;
  if (typeof delivery.next_at !== "number") delivery.next_at = null;
  return delivery;
}

export function parseSubscription(json: string): Subscription {
  const subscription = JSON.parse(json) as Subscription;
  if (!Array.isArray(subscription.events)) subscription.events = [];
  if (typeof subscription.disabled_at !== "number") subscription.disabled_at = null;
  return subscription;
}

/** The JSON body a delivery sends (the Standard Webhooks payload shape: type, timestamp, data). */
export function deliveryBody(delivery: Delivery): string {
  const timestamp = new Date(delivery.at).toISOString();
  if (delivery.type === TEST_EVENT_TYPE) {
    return JSON.stringify({ type: delivery.type, timestamp, data: { message: "a test event from Leadscore" } });
  }
  if (delivery.type === "lead.merged") {
    const data = {
      from: delivery.from,
      into: delivery.lead,
      score_before: Number(delivery.prev),
      score_after: Number(delivery.score),
    };
    return JSON.stringify({ type: delivery.type, timestamp, data });
  }
  const created = delivery.type === "lead.created";
  const rank = Number(delivery.rank);
  return JSON.stringify({
    type: delivery.type,
    timestamp,
    data: {
      lead_id: delivery.lead,
      from_stage: created || delivery.from === "" ? null : delivery.from,
      to_stage: delivery.to,
      score: Number(delivery.score),
      previous_score: created || delivery.prev === "" ? null : Number(delivery.prev),
      event_id: delivery.event === "" ? null : delivery.event,
      event_type: delivery.etype === "" ? null : delivery.etype,
      // A stage left because the score decayed past a threshold (its event is the decay entry), or because a
      // retroactive publish re-scored the lead (its event is `rescore:<version>`): no event caused it.
      ...(delivery.type === "lead.stage_changed" && { cause: causeOf(delivery.etype) }),
      ...(rank > 0 ? { rank } : {}),
    },
  });
}

/** What moved a lead's stage, by the event type its message names. */
function causeOf(etype: string): "decay" | "rescore" | "event" {
  return etype === "decay" || etype === "rescore" ? etype : "event";
}

/** The delay before the next attempt after `tries` (≥ 1) failed ones: the schedule's, its last repeating. */
export function nextDelay(tries: number, delaysMs: readonly number[]): number {
  return delaysMs[Math.min(tries, delaysMs.length) - 1] ?? 60_000;
}
