import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { queued, T0 } from "../../worker/test/helpers.ts";
import { createHookStack, type HookStack } from "./helpers.ts";
import { createReceiver, type Receiver } from "./receiver.ts";

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
