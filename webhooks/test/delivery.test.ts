import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { createReceiver, type Receiver } from "../../test-support/webhook-receiver.ts";
import { queued, T0 } from "../../test-support/worker-stack.ts";
import { createHookStack, type HookStack } from "./helpers.ts";

let hooks: HookStack | undefined;
let receivers: Receiver[] = [];

afterEach(async () => {
  await Promise.allSettled(receivers.map((receiver) => receiver.close()));
  receivers = [];
  await hooks?.close();
  hooks = undefined;
});

async function receiver(...args: Parameters<typeof createReceiver>): Promise<Receiver> {
  const created = await createReceiver(...args);
  receivers.push(created);
  return created;
}

describe("when a lead changes stage", () => {
  it("delivers a message the standardwebhooks library verifies, with the change in its body", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    const subscription = await hooks.subscribe(hook.url, ["lead.stage_changed", "lead.created"]);
    hooks.startDispatcher();

    await hooks.stack.send([queued("ada", "ada-1", "small", T0 + 1_000)]);
    await eventually(async () => hook.received.length >= 2);

    const verifier = new Webhook(subscription.secret);
    for (const request of hook.received) {
      expect(() => verifier.verify(request.body, request.headers as Record<string, string>)).not.toThrow();
      expect(request.headers["content-type"]).toBe("application/json");
    }
    expect(hook.received.map((request) => request.json.type)).toEqual(["lead.created", "lead.stage_changed"]);
    expect(hook.received[1]?.json.data).toEqual({
      lead_id: "ada",
      from_stage: "cold",
      to_stage: "warm",
      score: 100,
      previous_score: 0,
      event_id: "ada-1",
      event_type: "small",
      cause: "event",
      rank: 1,
    });
    expect(hook.received[0]?.json.data).toMatchObject({ lead_id: "ada", from_stage: null, previous_score: null });
    const tampered = hook.received[1] as (typeof hook.received)[number];
    expect(() =>
      verifier.verify(tampered.body.replace("100", "900"), tampered.headers as Record<string, string>),
    ).toThrow();
  });

  it("sends nothing for a change no subscription asked for", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    await hooks.subscribe(hook.url, ["lead.stage_changed"]);
    hooks.startDispatcher();

    await hooks.stack.send([queued("bo", "bo-1", "page_view", T0 + 1_000)]);
    await hooks.stack.drained();
    await hooks.stack.send([queued("bo", "bo-2", "small", T0 + 2_000)]);
    await eventually(async () => hook.received.length >= 1);
    expect(hook.received.map((request) => [request.json.type, request.json.data.to_stage])).toEqual([
      ["lead.stage_changed", "warm"],
    ]);
  });
});

describe("when the receiver answers 500 and then 200", () => {
  it("gets the message twice with the same webhook-id, and the log shows both attempts", async () => {
    hooks = await createHookStack();
    const hook = await receiver((_, index) => (index === 0 ? 500 : 200));
    const subscription = await hooks.subscribe(hook.url);
    hooks.startDispatcher();

    await hooks.stack.send([queued("cy", "cy-1", "small", T0 + 1_000)]);
    await eventually(async () => hook.received.length >= 2);
    expect(hook.received[0]?.id).toBe(hook.received[1]?.id);
    expect(hook.received[0]?.body).toBe(hook.received[1]?.body);

    const store = hooks.store;
    const page = await eventually(async () => {
      const found = await store.deliveries(subscription.id, { limit: 10, status: "delivered" });
      return found.items.length === 1 ? found : null;
    });
    expect(page.items[0]?.attempts.map((attempt) => attempt.status_code)).toEqual([500, 200]);
    expect(page.items[0]?.attempts[0]?.response).toBe("answered 500");
  });
});

describe("when the receiver is down and comes back", () => {
  it("gets every message, in order per lead", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    const subscription = await hooks.subscribe(hook.url, ["lead.score_changed"]);
    await hook.close();
    hooks.startDispatcher();

    // Each batch moves both leads' scores: page_view +5 at a time.
    for (let step = 1; step <= 6; step += 1) {
      await hooks.stack.send([
        queued("dee", `dee-${step}`, "page_view", T0 + step),
        queued("eve", `eve-${step}`, "page_view", T0 + step),
      ]);
      await hooks.stack.drained();
    }
    const store = hooks.store;
    // Refused connections are tried again.
    await eventually(async () => {
      const page = await store.deliveries(subscription.id, { limit: 20, status: "pending" });
      return page.items.some((delivery) => delivery.attempts.length >= 2);
    });

    await hook.listen();
    await eventually(async () => {
      const pending = await store.deliveries(subscription.id, { limit: 1, status: "pending" });
      return pending.total === 0 && hook.received.length >= 12;
    }, 20_000);
    for (const lead of ["dee", "eve"]) {
      const scores = hook.received.filter((request) => request.json.data.lead_id === lead);
      const firsts = [...new Map(scores.map((request) => [request.id, request.json.data.score])).values()];
      expect(firsts).toEqual([5, 10, 15, 20, 25, 30]);
    }
  });
});

describe("when the receiver answers 410 Gone", () => {
  it("disables the subscription and sends nothing more until it is enabled again", async () => {
    hooks = await createHookStack();
    const hook = await receiver(() => 410);
    const subscription = await hooks.subscribe(hook.url);
    hooks.startDispatcher();

    await hooks.stack.send([queued("fay", "fay-1", "small", T0 + 1_000)]);
    const store = hooks.store;
    const disabled = await eventually(async () => {
      const found = await store.get(subscription.id);
      return found && !found.active ? found : null;
    });
    expect(disabled.disabled_reason).toMatch(/410/);
    expect(hook.received).toHaveLength(1);

    hook.answer = () => 200;
    await store.update(subscription.id, { active: true });
    await eventually(async () => hook.received.length >= 2);
    expect(hook.received[1]?.id).toBe(hook.received[0]?.id);
  });
});

describe("when one lead's message keeps failing", () => {
  it("holds back that lead's later messages to that subscription only", async () => {
    hooks = await createHookStack();
    const failing = await receiver((request) => (request.json.data.lead_id === "ian" ? 500 : 200));
    const healthy = await receiver();
    await hooks.subscribe(failing.url);
    await hooks.subscribe(healthy.url);
    hooks.startDispatcher();

    await hooks.stack.send([queued("ian", "ian-1", "small", T0 + 1_000)]);
    await hooks.stack.drained();
    await hooks.stack.send([queued("ian", "ian-2", "small", T0 + 2_000), queued("ian", "ian-3", "small", T0 + 3_000)]);
    await hooks.stack.drained();
    await hooks.stack.send([queued("jo", "jo-1", "small", T0 + 1_000)]);

    await eventually(
      async () => healthy.received.length === 3 && failing.received.some((r) => r.json.data.lead_id === "jo"),
    );
    await eventually(async () => failing.received.filter((r) => r.json.data.lead_id === "ian").length >= 3);
    const toFailing = failing.received.filter((request) => request.json.data.lead_id === "ian");
    expect(new Set(toFailing.map((request) => request.json.data.to_stage))).toEqual(new Set(["warm"]));
    expect(healthy.received.map((request) => request.json.data.to_stage)).toEqual(["warm", "hot", "warm"]);
  });
});

describe("when a message fails for longer than the retry window", () => {
  it("marks it failed and lets the lead's next message go", async () => {
    hooks = await createHookStack();
    const hook = await receiver((request) => (request.json.data.to_stage === "warm" ? 503 : 200));
    const subscription = await hooks.subscribe(hook.url);
    hooks.startDispatcher({ retryForMs: 300 });

    await hooks.stack.send([queued("kim", "kim-1", "small", T0 + 1_000)]);
    await hooks.stack.drained();
    await hooks.stack.send([queued("kim", "kim-2", "small", T0 + 2_000), queued("kim", "kim-3", "small", T0 + 3_000)]);
    const store = hooks.store;
    await eventually(async () => hook.received.some((request) => request.json.data.to_stage === "hot"));
    const failed = await store.deliveries(subscription.id, { status: "failed", limit: 10 });
    expect(failed.items.map((delivery) => delivery.to)).toEqual(["warm"]);
    expect(failed.items[0]?.attempts.length).toBeGreaterThan(1);

    // A retry from the log sends it again, with its old webhook-id.
    hook.answer = () => 200;
    const sent = hook.received.length;
    await store.retry(subscription.id, failed.items[0]?.id as string);
    await eventually(async () => hook.received.length > sent);
    expect(hook.received.at(-1)?.id).toBe(hook.received[0]?.id);
  });
});

describe("when more deliveries settle than the log keeps", () => {
  it("keeps the newest ones", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    const subscription = await hooks.subscribe(hook.url, ["lead.score_changed"]);
    hooks.startDispatcher({ logSize: 3 });
    for (let step = 1; step <= 5; step += 1) {
      await hooks.stack.send([queued("lou", `lou-${step}`, "page_view", T0 + step)]);
      await hooks.stack.drained();
    }
    await eventually(async () => hook.received.length === 5);
    const store = hooks.store;
    const page = await eventually(async () => {
      const found = await store.deliveries(subscription.id, { limit: 10 });
      return found.total === 3 ? found : null;
    });
    expect(page.items.map((delivery) => Number(delivery.score))).toEqual([25, 20, 15]);
  });
});

describe("when the deep lane folds a late event into a lead's older history", () => {
  it("records the stage change of its commit too", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    await hooks.subscribe(hook.url);
    // 110 page views: 550 (hot), with history pages in MongoDB.
    await hooks.stack.send(
      Array.from({ length: 110 }, (_, i) => queued("max", `max-${i + 10}`, "page_view", T0 + 10_000 + i)),
    );
    await hooks.stack.drained();
    hooks.startDispatcher();
    await eventually(async () => hook.received.length >= 2);
    const before = hook.received.length;

    // Older than every entry of the tail: only the deep lane can place it.
    await hooks.stack.send([queued("max", "max-late", "small", T0)]);
    await eventually(async () => hook.received.length > before, 20_000);
    expect(hook.received.at(-1)?.json.data).toMatchObject({
      lead_id: "max",
      from_stage: "hot",
      to_stage: "qualified",
      score: 650,
      previous_score: 550,
      event_id: "max-late",
    });
  });
});

describe("when private targets are not allowed and a name resolves to a loopback address", () => {
  it("refuses to connect, and says why in the log", async () => {
    hooks = await createHookStack();
    const hook = await receiver();
    const subscription = await hooks.subscribe(hook.url.replace("127.0.0.1", "localhost"));
    hooks.startDispatcher({ allowPrivate: false });

    await hooks.stack.send([queued("ned", "ned-1", "small", T0 + 1_000)]);
    const store = hooks.store;
    const page = await eventually(async () => {
      const found = await store.deliveries(subscription.id, { limit: 1 });
      return found.items[0]?.attempts.length ? found : null;
    });
    expect(page.items[0]?.attempts[0]).toMatchObject({ status_code: null, error: expect.stringMatching(/non-public/) });
    expect(hook.received).toEqual([]);
  });
});

describe("when a receiver accepts nothing for WEBHOOK_DISABLE_AFTER_MS", () => {
  it("disables the subscription, says why, sends nothing more, and delivers the message once enabled", async () => {
    hooks = await createHookStack();
    const hook = await receiver(() => 500);
    const subscription = await hooks.subscribe(hook.url);
    const dispatcher = hooks.startDispatcher({ disableAfterMs: 400 });

    await hooks.stack.send([queued("max", "max-1", "small", T0 + 1_000)]);
    const store = hooks.store;
    const disabled = await eventually(async () => {
      const found = await store.get(subscription.id);
      return found && !found.active ? found : null;
    });
    expect(disabled.disabled_reason).toBe("its receiver accepted no delivery for 400 ms (WEBHOOK_DISABLE_AFTER_MS)");
    const status = (await store.statuses([subscription.id])).get(subscription.id);
    // Unix seconds of the first attempt.
    const firstAttempt = Number(hook.received[0]?.headers["webhook-timestamp"]) * 1000;
    expect(status?.failing_since).toBeGreaterThanOrEqual(firstAttempt);
    expect((disabled.disabled_at ?? 0) - (status?.failing_since ?? 0)).toBeGreaterThanOrEqual(400);
    expect(status?.notices.map((notice) => notice.type)).toEqual(["webhook.disabled"]);
    expect(status?.pending).toBe(1);
    expect(await dispatcher.renderMetrics()).toMatch(
      /leadscore_webhook_subscriptions_disabled_total\{reason="failing"\} 1\n/,
    );
    const sent = hook.received.length;
    expect(sent).toBeGreaterThan(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(sent);

    hook.answer = () => 200;
    await store.update(subscription.id, { active: true });
    await eventually(async () => (await store.statuses([subscription.id])).get(subscription.id)?.pending === 0);
    expect(hook.received.at(-1)?.id).toBe(hook.received[0]?.id);
    expect((await store.statuses([subscription.id])).get(subscription.id)).toMatchObject({ failing_since: null });
  });
});

describe("when a subscription's backlog is at WEBHOOK_MAX_PENDING", () => {
  it("drops what comes past it, logs each as dropped and counts them, and sends the rest", async () => {
    hooks = await createHookStack();
    const hook = await receiver(() => 503);
    const subscription = await hooks.subscribe(hook.url);
    const dispatcher = hooks.startDispatcher({ maxPending: 2 });

    await hooks.stack.send(["nia", "oli", "pat", "quin"].map((lead, n) => queued(lead, `${lead}-1`, "small", T0 + n)));
    await hooks.stack.drained();
    const store = hooks.store;
    const dropped = await eventually(async () => {
      const found = await store.deliveries(subscription.id, { status: "dropped", limit: 10 });
      return found.total === 2 ? found : null;
    });
    const pending = await store.deliveries(subscription.id, { status: "pending", limit: 10 });
    expect(pending.total).toBe(2);
    const leads = [...pending.items, ...dropped.items].map((delivery) => delivery.lead).sort();
    expect(leads).toEqual(["nia", "oli", "pat", "quin"]);
    expect(await dispatcher.renderMetrics()).toMatch(/leadscore_webhook_dropped_total 2\n/);

    hook.answer = () => 200;
    await eventually(async () => new Set(hook.received.map((request) => request.json.data.lead_id)).size === 2);
    const sentTo = new Set(hook.received.map((request) => request.json.data.lead_id));
    expect(sentTo).toEqual(new Set(pending.items.map((delivery) => delivery.lead)));
  });
});
