// Subscriptions and their deliveries in Redis: what the admin API writes and reads, and the steps the dispatcher
// takes (fan out, claim, settle). Web APIs only (its scripts are read by the runtime's loader, on Deno too), so the
// edge can use it.
import { type OutboxKeys, outboxKeys } from "@leadscore/live";
import { partitionPrefixes } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import {
  type Attempt,
  type Delivery,
  type DeliveryStatus,
  type Notice,
  parseDelivery,
  parseSubscription,
  type Subscription,
  type SubscriptionStatus,
  TEST_EVENT_TYPE,
  type WebhookEventType,
  webhookKeys,
} from "./model.ts";
import { CLAIM, ENQUEUE, FAN_OUT, FAN_OUT_PARTITION, RETRY, SAVE_SUBSCRIPTION, SETTLE } from "./scripts.ts";

export interface SubscriptionInput {
  url: string;
  events: WebhookEventType[];
  description?: string | undefined;
}

export interface SubscriptionChange {
  url?: string | undefined;
  events?: WebhookEventType[] | undefined;
  description?: string | undefined;
  active?: boolean | undefined;
}

export interface DeliveryPage {
  items: Delivery[];
  /** Id to pass as `before` for the next (older) page; null on the last. */
  next: string | null;
  /** Deliveries matching the filter in the log. */
  total: number;
}

/** A delivery claimed by a dispatcher: send it, then settle it with the same claim. */
export interface Claimed {
  claim: string;
  delivery: Delivery;
}

export type Outcome = "delivered" | "retry" | "failed" | "gone";

/** `whsec_` + base64 of 32 random bytes, as the Standard Webhooks libraries expect. */
export function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

function newId(): string {
  return `wh_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

export function createWebhookStore(options: {
  redis: Redis;
  redisPrefix: string;
  /** LEAD_PARTITIONS: each partition's commits append to its own outbox (docs/partitions.md). */
  partitions?: number;
  now?: () => number;
}) {
  const { redis } = options;
  const keys = webhookKeys(options.redisPrefix);
  const now = options.now ?? Date.now;
  // With lead partitions, each partition's outbox and its copy of `wants` (its commit script cannot read another
  // slot); the subscriptions stay on the deployment's.
  const partitions =
    (options.partitions ?? 1) > 1
      ? partitionPrefixes(options.redisPrefix, options.partitions ?? 1).map(outboxKeys)
      : [];
  const marks = `${options.redisPrefix}:webhooks:fanned`;

  /** Copies the deployment's `wants` into every partition: called after each change of the subscriptions. */
  async function shareWants(): Promise<void> {
    if (partitions.length === 0) return;
    const wants = await redis.get(keys.wants);
    await Promise.all(
      partitions.map((partition) => (wants === null ? redis.del(partition.wants) : redis.set(partition.wants, wants))),
    );
  }

  /** One partition's outbox messages after its mark, fanned out; then the stream trimmed up to the mark. */
  async function fanOutPartition(
    outbox: OutboxKeys,
    partition: number,
    most: number,
    bounds: { maxPending: number; logSize: number },
  ): Promise<{ taken: number; dropped: number }> {
    const mark = await redis.hget(marks, String(partition));
    const entries = await redis.xrange(outbox.stream, mark === null ? "-" : `(${mark}`, "+", "COUNT", most);
    let reply: [number, number] = [0, 0];
    if (entries.length > 0) {
      reply = await FAN_OUT_PARTITION.run(
        redis,
        [keys.subscriptions, keys.seq, marks],
        [
          now(),
          keys.subscriptionPrefix,
          bounds.maxPending,
          bounds.logSize,
          partition,
          ...entries.flatMap(([id, fields]) => [id, JSON.stringify(fields)]),
        ],
      );
    }
    // Every entry up to the mark is fanned out: trimmed (also those a call that died before its trim left behind).
    const passed = entries.at(-1)?.[0] ?? mark;
    if (passed !== null)
      await redis.pipeline().xtrim(outbox.stream, "MINID", passed).xdel(outbox.stream, passed).exec();
    return { taken: reply[0], dropped: reply[1] };
  }

  /** Stores a subscription; `enabling` starts its receiver's failing time again (it was paused or disabled). */
  async function save(subscription: Subscription, enabling = false): Promise<void> {
    await SAVE_SUBSCRIPTION.run(
      redis,
      [keys.subscriptions, keys.wants],
      [subscription.id, JSON.stringify(subscription), keys.subscriptionPrefix, enabling ? "1" : "0"],
    );
    await shareWants();
  }

  async function get(id: string): Promise<Subscription | null> {
    const raw = await redis.hget(keys.subscriptions, id);
    return raw === null ? null : parseSubscription(raw);
  }

  return {
    keys,
    /** Hash: lead partition → id of the last entry of its outbox fanned out. */
    marks,
    shareWants,

    async create(input: SubscriptionInput): Promise<Subscription> {
      const at = now();
      const subscription: Subscription = {
        id: newId(),
        url: input.url,
        events: [...new Set(input.events)],
        description: input.description ?? "",
        active: true,
        secret: newSecret(),
        created_at: at,
        updated_at: at,
        disabled_reason: null,
        disabled_at: null,
      };
      await save(subscription);
      return subscription;
    },

    /** Every subscription, oldest first. */
    async list(): Promise<Subscription[]> {
      const all = Object.values(await redis.hgetall(keys.subscriptions)).map(parseSubscription);
      return all.sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
    },

    get,

    async update(id: string, change: SubscriptionChange): Promise<Subscription | null> {
      const subscription = await get(id);
      if (!subscription) return null;
      if (change.url !== undefined) subscription.url = change.url;
      if (change.events !== undefined) subscription.events = [...new Set(change.events)];
      if (change.description !== undefined) subscription.description = change.description;
      const enabling = change.active === true && !subscription.active;
      if (change.active !== undefined) {
        subscription.active = change.active;
        if (change.active) {
          subscription.disabled_reason = null;
          subscription.disabled_at = null;
        }
      }
      subscription.updated_at = now();
      await save(subscription, enabling);
      return subscription;
    },

    async rotateSecret(id: string): Promise<Subscription | null> {
      const subscription = await get(id);
      if (!subscription) return null;
      subscription.secret = newSecret();
      subscription.updated_at = now();
      await save(subscription);
      return subscription;
    },

    /** What the dispatcher has seen of each subscription's receiver, by id (see SubscriptionStatus). */
    async statuses(ids: readonly string[]): Promise<Map<string, SubscriptionStatus>> {
      const pipeline = redis.pipeline();
      for (const id of ids) {
        const base = keys.subscription(id);
        pipeline.hmget(`${base}:health`, "failing_since", "last_success_at", "dropped");
        pipeline.zcard(`${base}:pending`);
        pipeline.lrange(`${base}:notices`, 0, -1);
      }
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];
      const values = replies.map(([, value]) => value);
      const number = (value: string | null | undefined) =>
        value === null || value === undefined ? null : Number(value);
      return new Map(
        ids.map((id, n) => {
          const [failingSince, lastSuccess, dropped] = values[3 * n] as (string | null)[];
          const notices = values[3 * n + 2] as string[];
          const status: SubscriptionStatus = {
            failing_since: number(failingSince),
            last_success_at: number(lastSuccess),
            pending: Number(values[3 * n + 1]),
            dropped: number(dropped) ?? 0,
            notices: notices.map((raw) => JSON.parse(raw) as Notice),
          };
          return [id, status];
        }),
      );
    },

    /** Deletes a subscription with its queue and log; false when there was none. */
    async remove(id: string): Promise<boolean> {
      const existed = await SAVE_SUBSCRIPTION.run(
        redis,
        [keys.subscriptions, keys.wants],
        [id, "", keys.subscriptionPrefix],
      );
      await shareWants();
      return existed === 1;
    },

    /** A page of a subscription's log, newest first, optionally of one status. */
    async deliveries(
      id: string,
      query: { status?: DeliveryStatus | undefined; limit: number; before?: string | undefined },
    ): Promise<DeliveryPage> {
      const base = keys.subscription(id);
      const log = `${base}:${query.status ?? "all"}`;
      const max = query.before === undefined ? "+inf" : `(${query.before}`;
      const [ids, total] = await Promise.all([
        redis.zrevrangebyscore(log, max, "-inf", "LIMIT", 0, query.limit + 1),
        redis.zcard(log),
      ]);
      const page = ids.slice(0, query.limit);
      const raws = page.length > 0 ? await redis.hmget(`${base}:d`, ...page) : [];
      const items = raws.filter((raw): raw is string => raw !== null).map(parseDelivery);
      return { items, next: ids.length > query.limit ? (page.at(-1) ?? null) : null, total };
    },

    async delivery(id: string, deliveryId: string): Promise<Delivery | null> {
      const raw = await redis.hget(`${keys.subscription(id)}:d`, deliveryId);
      return raw === null ? null : parseDelivery(raw);
    },

    /** Sends a delivery again now (see RETRY); null when the subscription's log has no such delivery. */
    async retry(id: string, deliveryId: string): Promise<Delivery | null> {
      const base = keys.subscription(id);
      const raw = await RETRY.run(redis, [`${base}:d`], [base, deliveryId, now()]);
      return raw ? parseDelivery(raw) : null;
    },

    /** Queues a `webhook.test` message to one subscription, in a queue of its own (no lead waits for it). */
    async sendTest(id: string): Promise<Delivery> {
      const at = now();
      const delivery: Omit<Delivery, "id"> = {
        msg: `msg_test_${crypto.randomUUID().replaceAll("-", "")}`,
        type: TEST_EVENT_TYPE,
        // Outside the lead id alphabet, so no lead's queue is this one.
        lead: "~test",
        from: "",
        to: "",
        score: "",
        prev: "",
        event: "",
        etype: "",
        rank: "",
        at,
        status: "pending",
        created_at: at,
        round_at: null,
        tries: 0,
        next_at: at,
        attempts: [],
      };
      const newId = await ENQUEUE.run(redis, [keys.seq], [keys.subscription(id), JSON.stringify(delivery), at]);
      return { ...delivery, id: String(newId) };
    },

    /** Messages not yet delivered: in the outbox, and pending per subscription. */
    async backlog(): Promise<number> {
      const ids = await redis.hkeys(keys.subscriptions);
      const pipeline = redis.pipeline().xlen(keys.outbox);
      for (const partition of partitions) pipeline.xlen(partition.stream);
      for (const id of ids) pipeline.zcard(`${keys.subscription(id)}:pending`);
      const replies = (await pipeline.exec()) ?? [];
      return replies.reduce((sum, [error, value]) => (error ? sum : sum + Number(value)), 0);
    },

    /**
     * Moves up to `most` outbox messages into the queues of the subscriptions that want them, dropping (and logging
     * as dropped) those for a subscription with `maxPending` deliveries pending already; how many it took, dropped.
     */
    async fanOut(
      most: number,
      bounds: { maxPending: number; logSize: number },
    ): Promise<{ taken: number; dropped: number }> {
      if (partitions.length > 0) {
        const steps = await Promise.all(partitions.map((outbox, p) => fanOutPartition(outbox, p, most, bounds)));
        return steps.reduce((sum, step) => ({ taken: sum.taken + step.taken, dropped: sum.dropped + step.dropped }));
      }
      const reply = await FAN_OUT.run(
        redis,
        [keys.outbox, keys.subscriptions, keys.seq],
        [most, now(), keys.subscriptionPrefix, bounds.maxPending, bounds.logSize],
      );
      // An empty outbox answers 0 rather than a pair.
      return Array.isArray(reply) ? { taken: reply[0], dropped: reply[1] } : { taken: 0, dropped: 0 };
    },

    /** Claims up to `most` leads whose next delivery to the subscription is due, for `claimMs`. */
    async claim(id: string, claimMs: number, most: number): Promise<Claimed[]> {
      const base = keys.subscription(id);
      const reply = await CLAIM.run(redis, [`${base}:d`], [base, now(), claimMs, most]);
      const claimed: Claimed[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) {
        claimed.push({ claim: reply[i] as string, delivery: parseDelivery(reply[i + 1] as string) });
      }
      return claimed;
    },

    /**
     * Records an attempt and settles the claimed delivery; `dueAt` is the next try (retry, gone). A failed attempt
     * `disable.afterMs` or more after the receiver's first failure since its last success disables the subscription
     * with `disable.reason`; true when this call disabled it.
     */
    async settle(
      id: string,
      claimed: Claimed,
      outcome: Outcome,
      attempt: Attempt,
      dueAt: number,
      logSize: number,
      reason: string,
      disable: { afterMs: number; reason: string },
    ): Promise<boolean> {
      const reply = await SETTLE.run(
        redis,
        [keys.subscriptions, keys.wants],
        [
          keys.subscription(id),
          id,
          claimed.delivery.id,
          claimed.claim,
          outcome,
          JSON.stringify(attempt),
          dueAt,
          now(),
          logSize,
          reason,
          disable.afterMs,
          disable.reason,
        ],
      );
      // A subscription this call disabled wants nothing more: so do the partitions' copies.
      if (reply === 2) await shareWants();
      return reply === 2;
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
