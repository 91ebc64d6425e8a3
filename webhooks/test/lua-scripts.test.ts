// Each webhook script run directly against Redis, with its arguments as its header spells them.
import { readFileSync } from "node:fs";
import { encodeOutboxMessage, type OutboxMessage } from "@leadscore/live";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { NOTICES_KEPT, parseDelivery, type Subscription, webhookKeys } from "../src/model.ts";
import { CLAIM, ENQUEUE, FAN_OUT, ID_DIGITS, RETRY, SAVE_SUBSCRIPTION, SETTLE } from "../src/scripts.ts";

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

async function fresh() {
  const prefix = uniqueName("webhook-scripts");
  test = await createTestRedis(prefix);
  const redis = test.redis;
  const keys = webhookKeys(prefix);
  const subscription = (id: string, events: string[], active = true) =>
    ({ id, url: "https://crm.example.com/", events, description: "", active, secret: "s", created_at: 1 }) as const;
  const save = (id: string, json: string, enabling = "0") =>
    SAVE_SUBSCRIPTION.run(redis, [keys.subscriptions, keys.wants], [id, json, keys.subscriptionPrefix, enabling]);
  const subscribe = (id: string, events: string[], active = true) =>
    save(id, JSON.stringify(subscription(id, events, active)));
  const message = (lead: string, type = "lead.score_changed"): OutboxMessage => ({
    type,
    lead,
    from: "warm",
    to: "hot",
    score: "320",
    prev: "250",
    event: "e1",
    etype: "demo_request",
    at: "1000",
    rank: "2",
  });
  const append = (m: OutboxMessage) => redis.xadd(keys.outbox, "*", ...encodeOutboxMessage(m));
  const fanOut = (most: number, maxPending = 0) =>
    FAN_OUT.run(
      redis,
      [keys.outbox, keys.subscriptions, keys.seq],
      [most, 2_000, keys.subscriptionPrefix, maxPending, 100],
    );
  const claim = (id: string, now: number, most = 10) =>
    CLAIM.run(redis, [`${keys.subscription(id)}:d`], [keys.subscription(id), now, 10_000, most]);
  const delivery = async (id: string, deliveryId: string) =>
    parseDelivery((await redis.hget(`${keys.subscription(id)}:d`, deliveryId)) as string);
  return { redis, keys, save, subscribe, append, message, fanOut, claim, delivery };
}

const attempt = (at: number, status: number | null) =>
  JSON.stringify({ at, status_code: status, latency_ms: 3, response: "", error: null });

describe("save-subscription-2.lua", () => {
  it("stores a subscription and keeps `wants` to the active ones' kinds; deletes it with its keys", async () => {
    const { redis, keys, save, subscribe } = await fresh();
    expect(await subscribe("a", ["lead.created", "lead.score_changed"])).toBe(1);
    expect(await subscribe("b", ["lead.stage_changed"], false)).toBe(1);
    expect(await redis.get(keys.wants)).toBe("cx");
    await redis.hset(`${keys.subscription("a")}:health`, "failing_since", 5);
    expect(await subscribe("a", ["lead.score_changed"])).toBe(1);
    expect(await redis.get(keys.wants)).toBe("x");
    // Enabling starts the receiver's failing time again.
    expect(await save("a", (await redis.hget(keys.subscriptions, "a")) as string, "1")).toBe(1);
    expect(await redis.hexists(`${keys.subscription("a")}:health`, "failing_since")).toBe(0);
    await redis.zadd(`${keys.subscription("a")}:pending`, 1, "1");
    expect(await save("a", "")).toBe(1);
    expect(await redis.exists(`${keys.subscription("a")}:pending`, keys.wants)).toBe(0);
    expect(await redis.hkeys(keys.subscriptions)).toEqual(["b"]);
    expect(await save("a", "")).toBe(0);
  });
});

describe("fan-out-3.lua", () => {
  it("answers 0 on an empty outbox", async () => {
    const { fanOut } = await fresh();
    expect(await fanOut(10)).toBe(0);
  });

  it("makes one delivery per active subscription that wants a message, then deletes the message", async () => {
    const { redis, keys, subscribe, append, message, fanOut, delivery } = await fresh();
    await subscribe("a", ["lead.score_changed"]);
    await subscribe("b", ["lead.created"]);
    await subscribe("c", ["lead.score_changed"], false);
    const id = await append(message("ada"));
    expect(await fanOut(10)).toEqual([1, 0]);
    expect(await redis.xlen(keys.outbox)).toBe(0);
    expect(await redis.zrange(`${keys.subscription("a")}:pending`, "0", "-1")).toEqual(["1"]);
    expect(await redis.exists(`${keys.subscription("b")}:d`, `${keys.subscription("c")}:d`)).toBe(0);
    const made = { ...message("ada"), at: 1000, msg: `msg_${id}`, status: "pending", tries: 0 };
    expect(await delivery("a", "1")).toMatchObject({ ...made, id: "1", next_at: 2_000, round_at: null });
    expect(await redis.zrange(`${keys.subscription("a")}:q`, "0", "-1")).toEqual([
      `ada ${"1".padStart(ID_DIGITS, "0")}`,
    ]);
    expect(await redis.zscore(`${keys.subscription("a")}:ready`, "ada")).toBe("2000");
  });

  it("takes at most the messages asked for, and drops deliveries past a subscription's bound", async () => {
    const { redis, keys, subscribe, append, message, fanOut } = await fresh();
    await subscribe("a", ["lead.score_changed"]);
    for (const lead of ["ada", "bo", "cy"]) await append(message(lead));
    expect(await fanOut(2, 1)).toEqual([2, 1]);
    expect(await redis.xlen(keys.outbox)).toBe(1);
    expect(await redis.zrange(`${keys.subscription("a")}:dropped`, "0", "-1")).toEqual(["2"]);
    expect(await redis.hget(`${keys.subscription("a")}:health`, "dropped")).toBe("1");
    const [notice] = await redis.lrange(`${keys.subscription("a")}:notices`, 0, -1);
    expect(JSON.parse(notice as string)).toMatchObject({ type: "webhook.backlog_full", dropped: 1 });
  });
});

describe("enqueue-delivery-1.lua", () => {
  it("queues a delivery with a new id, past any bound", async () => {
    const { redis, keys, delivery } = await fresh();
    const base = keys.subscription("a");
    const json = JSON.stringify({
      msg: "msg_test",
      type: "webhook.test",
      lead: "~test",
      attempts: [],
      status: "pending",
    });
    expect(await ENQUEUE.run(redis, [keys.seq], [base, json, 500])).toBe("1");
    expect(await ENQUEUE.run(redis, [keys.seq], [base, json, 600])).toBe("2");
    expect(await redis.zrange(`${base}:pending`, "0", "-1")).toEqual(["1", "2"]);
    expect(await redis.zscore(`${base}:ready`, "~test")).toBe("500");
    expect(await delivery("a", "2")).toMatchObject({ id: "2", msg: "msg_test", status: "pending" });
  });
});

describe("claim-deliveries-1.lua", () => {
  it("claims each due lead's head once, and gives back a lead whose claim expired", async () => {
    const { redis, keys, subscribe, append, message, fanOut, claim } = await fresh();
    await subscribe("a", ["lead.score_changed"]);
    await append(message("ada"));
    await append(message("ada"));
    await append(message("bo"));
    await fanOut(10);
    const first = await claim("a", 2_000);
    expect(first.filter((_, i) => i % 2 === 0)).toEqual(["12000", "12000"]);
    expect(first.filter((_, i) => i % 2 === 1).map((raw) => parseDelivery(raw).id)).toEqual(["1", "3"]);
    // In flight: not claimed again, and ada's second delivery waits behind her first; a new message for her does not
    // make her due either.
    expect(await claim("a", 5_000)).toEqual([]);
    await append(message("ada"));
    await fanOut(10);
    expect(await redis.zscore(`${keys.subscription("a")}:ready`, "ada")).toBeNull();
    // Their dispatcher died: once the claims expire, the leads are claimed again, heads first.
    const again = await claim("a", 12_000);
    expect(again.filter((_, i) => i % 2 === 1).map((raw) => parseDelivery(raw).id)).toEqual(["1", "3"]);
  });
});

describe("settle-delivery-2.lua", () => {
  async function claimed() {
    const setup = await fresh();
    await setup.subscribe("a", ["lead.score_changed"]);
    await setup.append(setup.message("ada"));
    await setup.append(setup.message("ada"));
    await setup.fanOut(10);
    const [expiry] = await setup.claim("a", 2_000);
    const { redis, keys } = setup;
    const settle = (outcome: string, claim: string, at: number, disableAfter = 3_600_000, id = "1") =>
      SETTLE.run(
        redis,
        [keys.subscriptions, keys.wants],
        [
          keys.subscription("a"),
          "a",
          id,
          claim,
          outcome,
          attempt(at, 500),
          at + 5_000,
          at,
          100,
          "",
          disableAfter,
          "off",
        ],
      );
    return { ...setup, expiry: expiry as string, settle };
  }

  it("settles a delivered delivery and makes the lead's next one due", async () => {
    const { redis, keys, delivery, expiry, settle } = await claimed();
    expect(await settle("delivered", expiry, 2_100)).toBe(1);
    expect(await delivery("a", "1")).toMatchObject({ status: "delivered", next_at: null, round_at: 2_100 });
    expect(await redis.zrange(`${keys.subscription("a")}:pending`, "0", "-1")).toEqual(["2"]);
    expect(await redis.zscore(`${keys.subscription("a")}:ready`, "ada")).toBe("2100");
    expect(await redis.hget(`${keys.subscription("a")}:health`, "last_success_at")).toBe("2100");
  });

  it("records an attempt under a lost claim without settling the delivery or moving the lead", async () => {
    const { redis, keys, delivery, settle } = await claimed();
    expect(await settle("delivered", "999", 2_100)).toBe(1);
    const stored = await delivery("a", "1");
    expect(stored.status).toBe("pending");
    expect(stored.attempts).toHaveLength(1);
    expect(await redis.zscore(`${keys.subscription("a")}:inflight`, "ada")).toBe("12000");
  });

  it("answers 0 for no such delivery, and 2 when a failure past the disable time disables the subscription", async () => {
    const { redis, keys, expiry, settle } = await claimed();
    expect(await settle("retry", expiry, 2_100, 3_600_000, "77")).toBe(0);
    expect(await settle("retry", expiry, 2_100, 0)).toBe(2);
    expect(JSON.parse((await redis.hget(keys.subscriptions, "a")) as string)).toMatchObject<Partial<Subscription>>({
      active: false,
      disabled_reason: "off",
    });
    expect(await redis.exists(keys.wants)).toBe(0);
  });
});

describe("retry-delivery-1.lua", () => {
  it("puts a settled delivery back in its lead's queue, due now; nil for no such delivery", async () => {
    const { redis, keys, subscribe, append, message, fanOut, delivery } = await fresh();
    await subscribe("a", ["lead.score_changed"]);
    await append(message("ada"));
    await fanOut(10);
    const base = keys.subscription("a");
    // Settled as failed, as the settle script leaves it.
    const failed = { ...(await delivery("a", "1")), status: "failed", next_at: null };
    await redis.hset(`${base}:d`, "1", JSON.stringify(failed));
    await redis.zrem(`${base}:pending`, "1");
    await redis.zadd(`${base}:failed`, 1, "1");
    await redis.zrem(`${base}:ready`, "ada");
    await redis.zrem(`${base}:q`, `ada ${"1".padStart(ID_DIGITS, "0")}`);
    const raw = await RETRY.run(redis, [`${base}:d`], [base, "1", 9_000]);
    expect(parseDelivery(raw as string)).toMatchObject({ status: "pending", tries: 0, next_at: 9_000 });
    expect(await delivery("a", "1")).toMatchObject({ status: "pending" });
    expect(await redis.zrange(`${base}:failed`, "0", "-1")).toEqual([]);
    expect(await redis.zrange(`${base}:pending`, "0", "-1")).toEqual(["1"]);
    expect(await redis.zrange(`${base}:q`, "0", "-1")).toEqual([`ada ${"1".padStart(ID_DIGITS, "0")}`]);
    expect(await redis.zscore(`${base}:ready`, "ada")).toBe("9000");
    expect(await RETRY.run(redis, [`${base}:d`], [base, "404", 9_000])).toBeNull();
  });
});

describe("the webhook includes' constants", () => {
  const include = (name: string) => readFileSync(new URL(`../src/lua/includes/${name}.lua`, import.meta.url), "utf8");

  it("agree with the TypeScript ones", () => {
    expect(/^local ID_DIGITS = (\d+)$/m.exec(include("delivery-member"))?.[1]).toBe(String(ID_DIGITS));
    expect(/^local NOTICES_KEPT = (\d+)$/m.exec(include("notify"))?.[1]).toBe(String(NOTICES_KEPT));
  });
});
