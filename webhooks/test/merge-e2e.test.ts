// An identify through the edge, the worker and the dispatcher to a real receiver: a subscription to `lead.merged`
// gets `{ from, into, score_before, score_after }`, signed per Standard Webhooks, and the merge that moves the known
// lead across two thresholds sends one `lead.stage_changed`, none for the anonymous lead it takes away.
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { eventually } from "../../test-support/index.ts";
import { createReceiver, type Received, type Receiver } from "../../test-support/webhook-receiver.ts";
import { queued, T0 } from "../../test-support/worker-stack.ts";
import { createHookStack, type HookStack } from "./helpers.ts";

const MINUTE = 60_000;

let hooks: HookStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;
let receiver: Receiver;

beforeAll(async () => {
  hooks = await createHookStack();
  edge = await createDecayEdge(hooks.stack);
  receiver = await createReceiver();
});

afterAll(async () => {
  await receiver?.close();
  edge?.close();
  await hooks?.close();
});

const sent = (type: string, leadId: string) => (request: Received) =>
  request.json.type === type &&
  (request.json.data.lead_id === leadId || request.json.data.into === leadId || request.json.data.from === leadId);

describe("when an anonymous lead is identified", () => {
  it("delivers one signed lead.merged with the scores either side, and one stage change for the merge", async () => {
    const subscription = await hooks.subscribe(receiver.url, ["lead.merged", "lead.stage_changed"]);
    hooks.startDispatcher();
    // The anonymous lead reaches hot (300) on its own; the known lead is cold (50).
    await hooks.stack.send([1, 2, 3].map((n) => queued("anon-7f3c", `p${n}`, "purchase", T0 + n * MINUTE)));
    await hooks.stack.send([queued("dee", "d1", "demo_request", T0 + 10 * MINUTE)]);
    await hooks.stack.drained();
    await eventually(async () => receiver.received.some(sent("lead.stage_changed", "anon-7f3c")));
    const before = receiver.received.length;

    const identify = await edge.app.request("/api/identify", {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": "test-write-key" },
      body: JSON.stringify({ anonymous_id: "anon-7f3c", lead_id: "dee" }),
    });
    expect(identify.status).toBe(202);
    const merged = await eventually(async () => receiver.received.find(sent("lead.merged", "dee")));
    await hooks.stack.drained();
    // Whatever else the merge sends has had time to arrive behind the lead.merged.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const verifier = new Webhook(subscription.secret);
    expect(() => verifier.verify(merged.body, merged.headers as Record<string, string>)).not.toThrow();
    expect(merged.json.data).toEqual({ from: "anon-7f3c", into: "dee", score_before: 50, score_after: 350 });
    const afterIdentify = receiver.received.slice(before);
    expect(afterIdentify.filter(sent("lead.merged", "dee"))).toHaveLength(1);
    const changes = afterIdentify.filter((request) => request.json.type === "lead.stage_changed");
    expect(changes.map((request) => request.json.data)).toEqual([
      expect.objectContaining({ lead_id: "dee", from_stage: "cold", to_stage: "hot", score: 350, previous_score: 50 }),
    ]);
    for (const request of changes) {
      expect(() => verifier.verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    }
  });
});
