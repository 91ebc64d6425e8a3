// The webhook dispatcher: moves committed messages from the outbox into each subscription's queues, then sends them,
// signed per the Standard Webhooks specification, at least once and in order per lead and subscription.
//
// - Fan out: one script call takes up to FAN_OUT_BATCH outbox messages, makes one delivery per subscription that
//   wants each, and deletes them from the outbox, atomically (nothing is fanned out twice or lost by a crash).
// - Claim: a lead's next delivery to a subscription is sent by one dispatcher at a time, claimed for `claimMs`; a
//   dispatcher that dies mid-request loses the claim when it expires, and the delivery is sent again (at least once).
//   Later messages of that lead wait behind it — for that subscription only.
// - Settle: 2xx delivered; 410 disables the subscription (its deliveries wait until it is enabled again); anything
//   else (another status, a timeout, a refused connection) is tried again after the next delay of the schedule,
//   until `retryForMs` after the first attempt, then marked failed and the lead's next message goes. A receiver that
//   has accepted nothing for `disableAfterMs` since its first failure (a failed attempt that late) has its
//   subscription disabled, with the reason in the API and a `webhook.disabled` notice.
// - Bound: a subscription with `maxPending` deliveries pending gets no more: new messages for it are dropped at fan
//   out, each logged with status `dropped`, and the episode is a notice (see scripts.ts).
// Every dispatcher process runs all three; they share the work through the scripts, so any number can run.
import { createHmac } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { isNonPublicAddress } from "@leadscore/contracts";
import type { Logger } from "@leadscore/runtime";
import { byLabel, counterLines, createHistogram, gaugeLines, prometheusText } from "@leadscore/runtime/prometheus";
import type { Redis } from "ioredis";
import { type Attempt, type Delivery, deliveryBody, nextDelay, type Subscription } from "./model.ts";
import { type Claimed, createWebhookStore, type Outcome } from "./store.ts";

export interface DispatcherOptions {
  redis: Redis;
  redisPrefix: string;
  /** LEAD_PARTITIONS: the dispatcher reads every partition's outbox. */
  partitions?: number;
  log: Logger;
  timeoutMs: number;
  retryDelaysMs: readonly number[];
  retryForMs: number;
  concurrency: number;
  perSubscription: number;
  logSize: number;
  /** A subscription whose receiver accepted nothing for this long after its first failure is disabled. */
  disableAfterMs: number;
  /** Deliveries pending per subscription past which new messages for it are dropped (and logged as dropped). */
  maxPending: number;
  allowPrivate: boolean;
  /** How long a claimed delivery stays this dispatcher's; past it, another sends it again. */
  claimMs?: number;
  /** Pause between looks at the outbox and the queues when there is nothing to do. */
  pollMs?: number;
  now?: () => number;
}

/** Messages taken from the outbox per script call (each call stays short: Redis runs one script at a time). */
const FAN_OUT_BATCH = 200;
/** The first 1 KB of an answer is kept in the log. */
const RESPONSE_KEPT = 1024;
/** An answer longer than this is cut off (the connection is closed rather than read on). */
const RESPONSE_READ_MAX = 64 * 1024;

/** `3 days`, `2 h`, `90 s`, `250 ms`: a duration as a reason says it. */
export function describeMs(ms: number): string {
  const days = ms / 86_400_000;
  if (Number.isInteger(days)) return `${days} ${days === 1 ? "day" : "days"}`;
  for (const [size, unit] of [
    [3_600_000, "h"],
    [60_000, "min"],
    [1_000, "s"],
  ] as const) {
    if (ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

export const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the base64 secret after `whsec_`. */
export function signature(secret: string, msgId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${msgId}.${timestamp}.${body}`).digest("base64")}`;
}

/** Resolves like `dns.lookup` but refuses a name with any non-public address (SSRF, see SECURITY.md). */
export const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, "", 0);
    const refused = addresses.find((entry) => isNonPublicAddress(entry.address));
    if (refused) {
      const problem = new Error(`${hostname} resolves to a non-public address (${refused.address})`);
      return callback(Object.assign(problem, { code: "EACCES" }), "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0] as LookupAddress;
    return callback(null, first.address, first.family);
  });
};

/**
 * What an attempt's answer means: 2xx delivered; 410 gone (retried once the subscription is enabled again);
 * anything else retried after the schedule's next delay — the last try falls at `retryForMs` after the first attempt
 * of the window, and an attempt at or past it fails the delivery for good.
 */
export function outcomeOf(
  status: number | null,
  delivery: Pick<Delivery, "round_at" | "tries">,
  attemptAt: number,
  schedule: { retryDelaysMs: readonly number[]; retryForMs: number },
): { outcome: Outcome; dueAt: number } {
  if (status !== null && status >= 200 && status < 300) return { outcome: "delivered", dueAt: 0 };
  const deadline = (delivery.round_at ?? attemptAt) + schedule.retryForMs;
  const dueAt = Math.min(attemptAt + nextDelay(delivery.tries + 1, schedule.retryDelaysMs), deadline);
  if (status === 410) return { outcome: "gone", dueAt };
  if (attemptAt >= deadline) return { outcome: "failed", dueAt: 0 };
  return { outcome: "retry", dueAt };
}

interface Answer {
  status: number | null;
  response: string;
  error: string | null;
}

export function createDispatcher(options: DispatcherOptions) {
  const { log } = options;
  const now = options.now ?? Date.now;
  const claimMs = options.claimMs ?? options.timeoutMs * 3;
  const pollMs = options.pollMs ?? 50;
  const store = createWebhookStore({
    redis: options.redis,
    redisPrefix: options.redisPrefix,
    partitions: options.partitions,
    now,
  });
  const lookup = options.allowPrivate ? undefined : publicLookup;
  const agents = {
    "http:": new HttpAgent({ keepAlive: true, maxSockets: options.perSubscription, ...(lookup ? { lookup } : {}) }),
    "https:": new HttpsAgent({ keepAlive: true, maxSockets: options.perSubscription, ...(lookup ? { lookup } : {}) }),
  };

  const outcomes: Record<Outcome, number> = { delivered: 0, retry: 0, failed: 0, gone: 0 };
  /** Subscriptions this process disabled, by why; messages it dropped for a full backlog. */
  const disabledBy = { gone: 0, failing: 0 };
  let dropped = 0;
  const disableReason = `its receiver accepted no delivery for ${describeMs(options.disableAfterMs)} (WEBHOOK_DISABLE_AFTER_MS)`;
  const seconds = createHistogram(
    "leadscore_webhook_delivery_seconds",
    "Time from sending a webhook request to its answer (or failure).",
    DELIVERY_BUCKETS,
  );
  const inFlight = new Map<string, number>();
  let total = 0;
  let subscriptions: Subscription[] = [];
  let subscriptionsAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  const sending = new Set<Promise<void>>();

  function post(url: URL, headers: Record<string, string>, body: string): Promise<Answer> {
    return new Promise((resolve) => {
      if (!options.allowPrivate && isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0) {
        if (isNonPublicAddress(url.hostname.replace(/^\[|\]$/g, ""))) {
          resolve({ status: null, response: "", error: "refused: a non-public address" });
          return;
        }
      }
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      let settled = false;
      const done = (answer: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(answer);
      };
      const request = send(url, {
        method: "POST",
        agent: agents[url.protocol as "http:" | "https:"],
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      });
      const deadline = setTimeout(() => {
        request.destroy();
        done({ status: null, response: "", error: `no answer within ${options.timeoutMs} ms` });
      }, options.timeoutMs);
      request.on("error", (error) => done({ status: null, response: "", error: error.message }));
      request.on("response", (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let read = 0;
        response.on("data", (chunk: Buffer) => {
          if (read < RESPONSE_KEPT) chunks.push(chunk);
          read += chunk.length;
          if (read > RESPONSE_READ_MAX) response.destroy();
        });
        const finish = () =>
          done({
            status: response.statusCode ?? null,
            response: Buffer.concat(chunks).subarray(0, RESPONSE_KEPT).toString("utf8"),
            error: null,
          });
        response.on("end", finish);
        response.on("close", finish);
        response.on("error", finish);
      });
      request.end(body);
    });
  }

  async function deliver(subscription: Subscription, claimed: Claimed): Promise<void> {
    const { delivery } = claimed;
    const body = deliveryBody(delivery);
    const attemptAt = now();
    const timestamp = Math.floor(attemptAt / 1000);
    const started = performance.now();
    const answer = await post(
      new URL(subscription.url),
      {
        "content-type": "application/json",
        "user-agent": "Leadscore-Webhooks/1",
        "webhook-id": delivery.msg,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": signature(subscription.secret, delivery.msg, timestamp, body),
      },
      body,
    );
    const latency = performance.now() - started;
    seconds.observe(latency / 1000);
    const { outcome, dueAt } = outcomeOf(answer.status, delivery, attemptAt, options);
    outcomes[outcome] += 1;
    const attempt: Attempt = {
      at: attemptAt,
      status_code: answer.status,
      latency_ms: Math.round(latency * 10) / 10,
      response: answer.response,
      error: answer.error,
    };
    const reason = outcome === "gone" ? `the receiver answered 410 Gone at ${new Date(attemptAt).toISOString()}` : "";
    const disabled = await store.settle(subscription.id, claimed, outcome, attempt, dueAt, options.logSize, reason, {
      afterMs: options.disableAfterMs,
      reason: disableReason,
    });
    if (disabled) {
      const why = outcome === "gone" ? "gone" : "failing";
      disabledBy[why] += 1;
      log.warn("webhook subscription disabled", { subscription: subscription.id, reason: reason || disableReason });
      subscriptionsAt = 0;
    }
  }

  async function refreshSubscriptions(): Promise<void> {
    if (now() - subscriptionsAt < 1_000) return;
    subscriptions = await store.list();
    // Each second, the partitions' copies of `wants` are made whole again, whatever change of them was missed.
    await store.shareWants();
    subscriptionsAt = now();
  }

  /** One look at the outbox and at every active subscription's due leads. */
  async function pass(): Promise<void> {
    const bounds = { maxPending: options.maxPending, logSize: options.logSize };
    for (let taken = FAN_OUT_BATCH; !stopped && taken === FAN_OUT_BATCH; ) {
      // A full batch: more may be waiting.
      const step = await store.fanOut(FAN_OUT_BATCH, bounds);
      taken = step.taken;
      if (step.dropped > 0) {
        dropped += step.dropped;
        log.warn("webhook messages dropped: a subscription's backlog is at WEBHOOK_MAX_PENDING", {
          dropped: step.dropped,
          max_pending: options.maxPending,
        });
      }
    }
    await refreshSubscriptions();
    for (const subscription of subscriptions) {
      if (stopped || !subscription.active) continue;
      const free = Math.min(
        options.perSubscription - (inFlight.get(subscription.id) ?? 0),
        options.concurrency - total,
      );
      if (free <= 0) continue;
      for (const claimed of await store.claim(subscription.id, claimMs, free)) {
        inFlight.set(subscription.id, (inFlight.get(subscription.id) ?? 0) + 1);
        total += 1;
        const sent: Promise<void> = deliver(subscription, claimed)
          .catch((error: Error) => {
            // The claim expires and the delivery is sent again.
            log.warn("webhook delivery not settled", { subscription: subscription.id, error: error.message });
          })
          .finally(() => {
            inFlight.set(subscription.id, (inFlight.get(subscription.id) ?? 1) - 1);
            total -= 1;
            sending.delete(sent);
            kick();
          });
        sending.add(sent);
      }
    }
  }

  /** Runs a pass now, or right after the one running. */
  function kick(): void {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = pass()
      .catch((error: Error) => log.warn("webhook dispatch pass failed", { error: error.message }))
      .finally(() => {
        ticking = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  }

  return {
    store,
    start(): void {
      const loop = () => {
        kick();
        timer = setTimeout(loop, pollMs);
      };
      loop();
    },
    /** Stops claiming and waits for the requests in flight to settle (each ends within the timeout). */
    async close(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await ticking;
      await Promise.allSettled([...sending]);
      agents["http:"].destroy();
      agents["https:"].destroy();
    },
    async renderMetrics(): Promise<string> {
      const backlog = await store.backlog().catch(() => Number.NaN);
      return prometheusText([
        ...counterLines(
          "leadscore_webhook_deliveries_total",
          "Webhook delivery attempts by outcome.",
          byLabel("outcome", Object.entries(outcomes)),
        ),
        ...seconds.lines(),
        ...counterLines(
          "leadscore_webhook_subscriptions_disabled_total",
          "Webhook subscriptions the dispatcher disabled, by why (gone: a 410; failing: no success for WEBHOOK_DISABLE_AFTER_MS).",
          byLabel("reason", Object.entries(disabledBy)),
        ),
        ...counterLines(
          "leadscore_webhook_dropped_total",
          "Webhook messages dropped because their subscription's backlog was at WEBHOOK_MAX_PENDING (logged as dropped).",
          dropped,
        ),
        ...gaugeLines(
          "leadscore_webhook_backlog",
          "Webhook messages not yet delivered (outbox and pending deliveries).",
          backlog,
        ),
      ]);
    },
    counts(): Readonly<Record<Outcome, number>> {
      return outcomes;
    },
  };
}

export type Dispatcher = ReturnType<typeof createDispatcher>;
