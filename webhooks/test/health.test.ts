// A receiver that accepts nothing for WEBHOOK_DISABLE_AFTER_MS gets its subscription disabled; a subscription's
// backlog is bounded by WEBHOOK_MAX_PENDING, and what is dropped past it is logged. The store's scripts on real Redis,
// with a clock the test moves.
import { outboxKeys } from "@leadscore/live";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import type { Attempt, Subscription } from "../src/model.ts";
import { createWebhookStore, type Outcome, type WebhookStore } from "../src/store.ts";

const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const DISABLE_AFTER = 60_000;
const DISABLE = {
  afterMs: DISABLE_AFTER,
  reason: "its receiver accepted no delivery for 1 min (WEBHOOK_DISABLE_AFTER_MS)",
};

let redis: Awaited<ReturnType<typeof createTestRedis>>;
let prefix: string;
let store: WebhookStore;
let clock: number;
let subscription: Subscription;

beforeEach(async () => {
  prefix = uniqueName("hooks");
  redis = await createTestRedis(prefix);
  clock = T0;
  store = createWebhookStore({ redis: redis.redis, redisPrefix: prefix, now: () => clock });
  subscription = await store.create({ url: "https://crm.example.com/hooks", events: ["lead.score_changed"] });
});

afterEach(async () => {
  await redis.cleanup();
});

const statusOf = async (id = subscription.id) => (await store.statuses([id])).get(id);

/** Claims the subscription's next due delivery at `at` and settles it with `outcome`; whether that disabled it. */
async function attempt(at: number, outcome: Outcome, statusCode: number | null = 500): Promise<boolean> {
  clock = at;
  const [claimed] = await store.claim(subscription.id, 10_000, 1);
  if (!claimed) throw new Error(`nothing due at ${at - T0} ms`);
  const answer: Attempt = { at, status_code: statusCode, latency_ms: 1, response: "", error: null };
  const reason = outcome === "gone" ? "the receiver answered 410 Gone" : "";
  return store.settle(subscription.id, claimed, outcome, answer, at + 1, 1_000, reason, DISABLE);
}

/** Appends a score change of `lead` to the outbox, as a commit does. */
function commit(lead: string, score: number) {
  return redis.redis.xadd(outboxKeys(prefix).stream, "*", "type", "lead.score_changed", "lead", lead, "score", score);
}

describe("when a receiver keeps failing", () => {
  it("records since when, and disables the subscription at the first failure WEBHOOK_DISABLE_AFTER_MS after that", async () => {
    await store.sendTest(subscription.id);
    expect(await attempt(T0 + 1_000, "retry")).toBe(false);
    expect(await statusOf()).toMatchObject({ failing_since: T0 + 1_000, last_success_at: null, pending: 1 });
    expect(await attempt(T0 + 1_000 + DISABLE_AFTER - 1, "retry")).toBe(false);
    expect((await store.get(subscription.id))?.active).toBe(true);

    expect(await attempt(T0 + 1_000 + DISABLE_AFTER, "retry")).toBe(true);
    const disabled = await store.get(subscription.id);
    expect(disabled).toMatchObject({
      active: false,
      disabled_reason: DISABLE.reason,
      disabled_at: T0 + 1_000 + DISABLE_AFTER,
    });
    const status = await statusOf();
    expect(status?.notices).toEqual([
      { type: "webhook.disabled", at: T0 + 1_000 + DISABLE_AFTER, reason: DISABLE.reason },
    ]);
    // Its delivery waits for it, not lost.
    expect(status?.pending).toBe(1);
    // No new message is queued for it while it is disabled.
    expect(await redis.redis.get(outboxKeys(prefix).wants)).toBeNull();
  });

  it("starts the count again after each success", async () => {
    await store.sendTest(subscription.id);
    await attempt(T0 + 1_000, "retry");
    await attempt(T0 + 2_000, "delivered", 200);
    expect(await statusOf()).toMatchObject({ failing_since: null, last_success_at: T0 + 2_000, pending: 0 });

    await store.sendTest(subscription.id);
    // A whole window after the first failure, but not after the first failure since the success.
    expect(await attempt(T0 + 1_000 + DISABLE_AFTER, "retry")).toBe(false);
    expect(await statusOf()).toMatchObject({ failing_since: T0 + 1_000 + DISABLE_AFTER, last_success_at: T0 + 2_000 });
    expect((await store.get(subscription.id))?.active).toBe(true);
    expect((await statusOf())?.notices).toEqual([]);
  });

  it("starts the count again when it is enabled", async () => {
    await store.sendTest(subscription.id);
    await attempt(T0, "retry");
    expect(await attempt(T0 + DISABLE_AFTER, "retry")).toBe(true);
    clock = T0 + DISABLE_AFTER + 5_000;
    const enabled = await store.update(subscription.id, { active: true });
    expect(enabled).toMatchObject({ active: true, disabled_reason: null, disabled_at: null });
    expect((await statusOf())?.failing_since).toBeNull();
    // One more failure is the first of a new window.
    expect(await attempt(T0 + DISABLE_AFTER + 10_000, "retry")).toBe(false);
    expect((await store.get(subscription.id))?.active).toBe(true);
  });

  it("notes a 410 the same way, once", async () => {
    await store.sendTest(subscription.id);
    expect(await attempt(T0 + 1_000, "gone", 410)).toBe(true);
    expect(await store.get(subscription.id)).toMatchObject({
      active: false,
      disabled_reason: "the receiver answered 410 Gone",
      disabled_at: T0 + 1_000,
    });
    expect((await statusOf())?.notices.map((notice) => notice.type)).toEqual(["webhook.disabled"]);
  });
});

describe("when a subscription's backlog reaches WEBHOOK_MAX_PENDING", () => {
  const bounds = { maxPending: 3, logSize: 100 };

  it("drops the messages past it, logs each as dropped, and says so when it fills and when it takes messages again", async () => {
    for (let n = 1; n <= 5; n += 1) await commit(`lead-${n}`, n);
    expect(await store.fanOut(200, bounds)).toEqual({ taken: 5, dropped: 2 });

    const pending = await store.deliveries(subscription.id, { status: "pending", limit: 10 });
    expect(pending.items.map((delivery) => delivery.lead)).toEqual(["lead-3", "lead-2", "lead-1"]);
    const dropped = await store.deliveries(subscription.id, { status: "dropped", limit: 10 });
    expect(dropped.items.map((delivery) => [delivery.lead, delivery.score, delivery.status])).toEqual([
      ["lead-5", "5", "dropped"],
      ["lead-4", "4", "dropped"],
    ]);
    // Never claimed: only the pending ones are sent.
    clock += 1;
    const claimed = await store.claim(subscription.id, 10_000, 10);
    expect(claimed.map((item) => item.delivery.lead).sort()).toEqual(["lead-1", "lead-2", "lead-3"]);
    const full = await statusOf();
    expect(full).toMatchObject({ pending: 3, dropped: 2 });
    expect(full?.notices).toHaveLength(1);
    expect(full?.notices[0]).toMatchObject({ type: "webhook.backlog_full", at: T0, dropped: 1 });
    expect(full?.notices[0]?.reason).toMatch(/bound of 3 pending deliveries \(WEBHOOK_MAX_PENDING\)/);

    // A test event is queued whatever the backlog, and does not end the episode.
    await store.sendTest(subscription.id);
    expect((await statusOf())?.notices.map((notice) => notice.type)).toEqual(["webhook.backlog_full"]);

    // Two delivered (four were pending with the test event): room for one more, and the next message is queued.
    const answer: Attempt = { at: clock, status_code: 200, latency_ms: 1, response: "", error: null };
    for (const item of claimed.slice(0, 2)) {
      await store.settle(subscription.id, item, "delivered", answer, 0, 100, "", DISABLE);
    }
    await commit("lead-6", 6);
    expect(await store.fanOut(200, bounds)).toEqual({ taken: 1, dropped: 0 });
    const resumed = await statusOf();
    expect(resumed).toMatchObject({ pending: 3, dropped: 2 });
    expect(resumed?.notices.map((notice) => [notice.type, notice.dropped])).toEqual([
      ["webhook.backlog_resumed", 2],
      ["webhook.backlog_full", 1],
    ]);

    // A dropped message is not gone: a retry from the log queues it.
    const retried = await store.retry(subscription.id, dropped.items[1]?.id as string);
    expect(retried).toMatchObject({ lead: "lead-4", status: "pending" });
    expect((await store.deliveries(subscription.id, { status: "dropped", limit: 10 })).total).toBe(1);
  });

  it("keeps dropped deliveries in the log within WEBHOOK_LOG_SIZE, and their count whole", async () => {
    for (let n = 1; n <= 6; n += 1) await commit(`lead-${n}`, n);
    expect(await store.fanOut(200, { maxPending: 1, logSize: 2 })).toEqual({ taken: 6, dropped: 5 });
    const dropped = await store.deliveries(subscription.id, { status: "dropped", limit: 10 });
    expect(dropped.items.map((delivery) => delivery.lead)).toEqual(["lead-6", "lead-5"]);
    expect((await store.deliveries(subscription.id, { limit: 10 })).total).toBe(3);
    expect(await statusOf()).toMatchObject({ pending: 1, dropped: 5 });
  });

  it("deletes its status and notices with the subscription", async () => {
    for (let n = 1; n <= 5; n += 1) await commit(`lead-${n}`, n);
    await store.fanOut(200, bounds);
    expect(await store.remove(subscription.id)).toBe(true);
    const left = await redis.redis.keys(`${store.keys.subscription(subscription.id)}*`);
    expect(left).toEqual([]);
  });
});
