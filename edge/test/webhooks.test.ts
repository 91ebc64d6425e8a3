import { outboxKeys } from "@leadscore/live";
import { createWebhookStore, NO_STATUS } from "@leadscore/webhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { withReadToken } from "../../test-support/index.ts";
import { ADMIN } from "./rules-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Webhook = { id: string; url: string; events: string[]; active: boolean; secret?: string };
type Delivery = { id: string; webhook_id: string; type: string; status: string; attempts: unknown[] };

const NOW = Date.parse("2026-03-01T12:00:00.000Z");

let edge: Edge;
beforeAll(async () => {
  edge = await createTestEdge({}, { now: () => NOW });
});
afterAll(async () => {
  await edge?.close();
});

const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = ADMIN) =>
  edge.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });

async function created(body: unknown = { url: "https://crm.example.com/hooks", events: ["lead.stage_changed"] }) {
  const response = await send("POST", "/api/webhooks", body);
  expect(response.status).toBe(201);
  return (await response.json()) as Webhook & { secret: string };
}

describe("when subscribing a URL", () => {
  it("answers 201 with the secret, shown only then", async () => {
    const response = await send("POST", "/api/webhooks", {
      url: "https://crm.example.com/hooks",
      events: ["lead.stage_changed", "lead.created"],
      description: "CRM",
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Webhook & { secret: string };
    expect(body).toMatchObject({
      url: "https://crm.example.com/hooks",
      events: ["lead.stage_changed", "lead.created"],
      description: "CRM",
      active: true,
      disabled_reason: null,
      created_at: "2026-03-01T12:00:00.000Z",
    });
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(body.secret.slice(6))).toHaveLength(32);
    expect(response.headers.get("location")).toBe(`/api/webhooks/${body.id}`);

    const listed = (await (await send("GET", "/api/webhooks")).json()) as Webhook[];
    expect(listed.find((hook) => hook.id === body.id)).toBeDefined();
    expect(listed.every((hook) => hook.secret === undefined)).toBe(true);
    const one = (await (await send("GET", `/api/webhooks/${body.id}`)).json()) as Webhook;
    expect(one.secret).toBeUndefined();
  });

  it("tells the commit script which messages to record", async () => {
    const hook = await created({ url: "https://a.example.com/", events: ["lead.score_changed"] });
    const wants = () => edge.redis.get(outboxKeys(edge.deps.config.REDIS_PREFIX).wants);
    expect(await wants()).toContain("x");
    await send("PUT", `/api/webhooks/${hook.id}`, { active: false });
    // With no active subscription left the key is gone; with others, it names what they want.
    expect((await wants()) ?? "").not.toContain("x");
    await send("DELETE", `/api/webhooks/${hook.id}`);
  });

  it("records lead.created for a lead created through the API", async () => {
    const hook = await created({ url: "https://b.example.com/", events: ["lead.created"] });
    const response = await send("POST", "/api/leads", {
      _id: "api-made",
      name: "Ada",
      email: "ada@example.com",
      company: "Acme",
    });
    expect(response.status).toBe(201);
    const entries = await edge.redis.xrange(outboxKeys(edge.deps.config.REDIS_PREFIX).stream, "-", "+");
    const fields = entries.map(([, values]) => values).find((values) => values.includes("api-made"));
    expect(fields?.slice(0, 4)).toEqual(["type", "lead.created", "lead", "api-made"]);
    await send("DELETE", `/api/webhooks/${hook.id}`);
  });

  it.each([
    ["ftp://crm.example.com/", "must be an http or https URL"],
    ["not a url", "must be an absolute http(s) URL"],
    ["https://user:pass@crm.example.com/", "must not contain credentials"],
  ])("refuses %s", async (url, message) => {
    const response = await send("POST", "/api/webhooks", { url, events: ["lead.created"] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: "VALIDATION_FAILED", details: [{ path: "url", message }] },
    });
  });

  it("refuses an unknown event type and an empty list", async () => {
    for (const events of [["lead.deleted"], []]) {
      const response = await send("POST", "/api/webhooks", { url: "https://crm.example.com/", events });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { details: { path: string }[] } };
      expect(body.error.details[0]?.path).toMatch(/^events/);
    }
  });

  it("needs the admin token, for reads too", async () => {
    expect((await edge.app.request("/api/webhooks")).status).toBe(401);
    expect((await edge.app.request("/api/webhooks", withReadToken())).status).toBe(403);
  });
});

describe("when the deployment runs in production", () => {
  let production: Edge;
  beforeAll(async () => {
    production = await createTestEdge({ NODE_ENV: "production" });
  });
  afterAll(async () => {
    await production?.close();
  });
  const post = (app: Edge, url: string) =>
    app.app.request("/api/webhooks", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ url, events: ["lead.created"] }),
    });

  it.each([
    "http://127.0.0.1:8080/",
    "http://localhost/hook",
    "http://10.1.2.3/",
    "http://192.168.0.10/",
    "http://172.20.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/",
    "http://[fd00::1]/",
    "http://2130706433/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://metadata.google.internal/",
    "http://[::7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[fec0::1]/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
  ])("refuses the non-public target %s (server-side request forgery)", async (url) => {
    const response = await post(production, url);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { details: { path: string }[] } };
    expect(body.error.details[0]?.path).toBe("url");
  });

  it.each([
    "https://hooks.example.com/leadscore",
    "https://8.8.8.8/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://[::ffff:808:808]/hook",
    "https://[64:ff9b::808:808]/hook",
  ])("accepts the public target %s", async (url) => {
    expect((await post(production, url)).status).toBe(201);
  });

  it("accepts a private one when WEBHOOK_ALLOW_PRIVATE=true", async () => {
    const allowed = await createTestEdge({ NODE_ENV: "production", WEBHOOK_ALLOW_PRIVATE: "true" });
    try {
      expect((await post(allowed, "http://10.1.2.3/hook")).status).toBe(201);
    } finally {
      await allowed.close();
    }
  });
});

describe("when changing a subscription", () => {
  it("updates its fields, pauses and resumes it", async () => {
    const hook = await created();
    const response = await send("PUT", `/api/webhooks/${hook.id}`, {
      url: "https://other.example.com/",
      events: ["lead.created"],
      active: false,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      url: "https://other.example.com/",
      events: ["lead.created"],
      active: false,
    });
    const resumed = await send("PUT", `/api/webhooks/${hook.id}`, { active: true });
    expect(await resumed.json()).toMatchObject({ active: true });
  });

  it("refuses an empty change and answers 404 for an unknown id", async () => {
    const hook = await created();
    expect((await send("PUT", `/api/webhooks/${hook.id}`, {})).status).toBe(400);
    expect((await send("PUT", "/api/webhooks/wh_000000000000000000000000", { active: true })).status).toBe(404);
    expect((await send("GET", "/api/webhooks/wh_000000000000000000000000")).status).toBe(404);
    expect((await send("GET", "/api/webhooks/nope")).status).toBe(400);
  });

  it("rotates the secret, showing the new one once", async () => {
    const hook = await created();
    const response = await send("POST", `/api/webhooks/${hook.id}/rotate-secret`);
    expect(response.status).toBe(200);
    const rotated = (await response.json()) as Webhook & { secret: string };
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(hook.secret);
  });

  it("refuses a test delivery while it is paused, records none, and sends one again once resumed", async () => {
    const hook = await created();
    expect((await send("PUT", `/api/webhooks/${hook.id}`, { active: false })).status).toBe(200);
    const refused = await send("POST", `/api/webhooks/${hook.id}/test`);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: {
        code: "SUBSCRIPTION_PAUSED",
        message: `webhook ${hook.id} is paused: enable it (active: true) to send a test`,
        details: [],
      },
    });
    const log = await send("GET", `/api/webhooks/${hook.id}/deliveries`);
    expect(log.headers.get("x-total-count")).toBe("0");
    expect(await log.json()).toEqual([]);

    expect((await send("PUT", `/api/webhooks/${hook.id}`, { active: true })).status).toBe(200);
    const sent = await send("POST", `/api/webhooks/${hook.id}/test`);
    expect(sent.status).toBe(202);
    expect(await sent.json()).toMatchObject({ type: "webhook.test", status: "pending" });
    expect((await send("GET", `/api/webhooks/${hook.id}/deliveries`)).headers.get("x-total-count")).toBe("1");
  });

  it("deletes it with its log", async () => {
    const hook = await created();
    await send("POST", `/api/webhooks/${hook.id}/test`);
    expect((await send("DELETE", `/api/webhooks/${hook.id}`)).status).toBe(204);
    expect((await send("GET", `/api/webhooks/${hook.id}`)).status).toBe(404);
    expect((await send("DELETE", `/api/webhooks/${hook.id}`)).status).toBe(404);
    expect(await edge.redis.keys(`${edge.deps.config.REDIS_PREFIX}:webhooks:s:${hook.id}*`)).toEqual([]);
  });
});

describe("when reading the delivery log", () => {
  it("lists deliveries newest first, paged, filtered by status", async () => {
    const hook = await created();
    for (let i = 0; i < 3; i += 1) expect((await send("POST", `/api/webhooks/${hook.id}/test`)).status).toBe(202);
    const first = await send("GET", `/api/webhooks/${hook.id}/deliveries?limit=2`);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-total-count")).toBe("3");
    const page1 = (await first.json()) as Delivery[];
    expect(page1).toHaveLength(2);
    expect(page1[0]).toMatchObject({ type: "webhook.test", status: "pending", attempts: [] });
    const next = first.headers.get("link")?.match(/<([^>]+)>/)?.[1] as string;
    const page2 = (await (await send("GET", next)).json()) as Delivery[];
    expect(page2).toHaveLength(1);
    const ids = [...page1, ...page2].map((delivery) => Number(delivery.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const delivered = await send("GET", `/api/webhooks/${hook.id}/deliveries?status=delivered`);
    expect(await delivered.json()).toEqual([]);
    expect((await send("GET", `/api/webhooks/${hook.id}/deliveries?status=lost`)).status).toBe(400);
  });

  it("queues a delivery again on retry, and answers 404 for an unknown one", async () => {
    const hook = await created();
    const test = (await (await send("POST", `/api/webhooks/${hook.id}/test`)).json()) as Delivery;
    const response = await send("POST", `/api/webhooks/${hook.id}/deliveries/${test.id}/retry`);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id: test.id, webhook_id: test.webhook_id, status: "pending" });
    expect((await send("POST", `/api/webhooks/${hook.id}/deliveries/999999/retry`)).status).toBe(404);
  });

  it("shows what the dispatcher recorded of each attempt", async () => {
    const hook = await created();
    const store = createWebhookStore({ redis: edge.redis, redisPrefix: edge.deps.config.REDIS_PREFIX });
    await store.sendTest(hook.id);
    const [claimed] = await store.claim(hook.id, 10_000, 1);
    if (!claimed) throw new Error("nothing claimed");
    const attempt = { at: NOW, status_code: 503, latency_ms: 12.5, response: "busy", error: null };
    await store.settle(hook.id, claimed, "retry", attempt, NOW + 5_000, 1_000, "", { afterMs: 86_400_000, reason: "" });
    const [delivery] = (await (await send("GET", `/api/webhooks/${hook.id}/deliveries`)).json()) as Delivery[];
    expect(delivery).toMatchObject({
      status: "pending",
      attempts: [{ at: "2026-03-01T12:00:00.000Z", status_code: 503, latency_ms: 12.5, response: "busy", error: null }],
    });
  });
});

describe("when the dispatcher has disabled a subscription and dropped messages past its backlog's bound", () => {
  it("shows why and since when, what was dropped and the notices", async () => {
    const hook = await created({ url: "https://down.example.com/hooks", events: ["lead.score_changed"] });
    const fresh = (await (await send("GET", `/api/webhooks/${hook.id}`)).json()) as Record<string, unknown>;
    // Nothing seen yet: no failure, no success, nothing pending or dropped, no notice.
    expect(fresh).toMatchObject({ disabled_reason: null, disabled_at: null, ...NO_STATUS });
    expect(NO_STATUS).toEqual({ failing_since: null, last_success_at: null, pending: 0, dropped: 0, notices: [] });

    let clock = NOW;
    const store = createWebhookStore({
      redis: edge.redis,
      redisPrefix: edge.deps.config.REDIS_PREFIX,
      now: () => clock,
    });
    const outbox = outboxKeys(edge.deps.config.REDIS_PREFIX).stream;
    // Messages other tests of this file left in the outbox would be fanned out too.
    await edge.redis.del(outbox);
    for (const lead of ["ada", "bo"]) await edge.redis.xadd(outbox, "*", "type", "lead.score_changed", "lead", lead);
    expect(await store.fanOut(200, { maxPending: 1, logSize: 100 })).toEqual({ taken: 2, dropped: 1 });
    const disable = {
      afterMs: 3_600_000,
      reason: "its receiver accepted no delivery for 1 h (WEBHOOK_DISABLE_AFTER_MS)",
    };
    for (const at of [NOW, NOW + 3_600_000]) {
      clock = at;
      const [claimed] = await store.claim(hook.id, 10_000, 1);
      if (!claimed) throw new Error("nothing claimed");
      const attempt = { at, status_code: 500, latency_ms: 3, response: "down", error: null };
      await store.settle(hook.id, claimed, "retry", attempt, at + 1, 1_000, "", disable);
    }

    const response = await send("GET", `/api/webhooks/${hook.id}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      active: false,
      disabled_reason: disable.reason,
      disabled_at: "2026-03-01T13:00:00.000Z",
      failing_since: "2026-03-01T12:00:00.000Z",
      last_success_at: null,
      pending: 1,
      dropped: 1,
      notices: [
        { type: "webhook.disabled", at: "2026-03-01T13:00:00.000Z", reason: disable.reason },
        { type: "webhook.backlog_full", at: "2026-03-01T12:00:00.000Z", dropped: 1, reason: expect.any(String) },
      ],
    });
    const listed = (await (await send("GET", "/api/webhooks")).json()) as { id: string; dropped: number }[];
    expect(listed.find((item) => item.id === hook.id)?.dropped).toBe(1);
    const dropped = await send("GET", `/api/webhooks/${hook.id}/deliveries?status=dropped`);
    expect(await dropped.json()).toMatchObject([{ lead_id: "bo", status: "dropped", attempts: [] }]);
    expect(dropped.headers.get("x-total-count")).toBe("1");

    // Enabled again: the reason goes, and its failing time starts again.
    const enabled = await send("PUT", `/api/webhooks/${hook.id}`, { active: true });
    expect(await enabled.json()).toMatchObject({
      active: true,
      disabled_reason: null,
      disabled_at: null,
      failing_since: null,
      pending: 1,
    });
    // The edge is shared by this file's tests: others count the kinds of message active subscriptions want.
    expect((await send("DELETE", `/api/webhooks/${hook.id}`)).status).toBe(204);
  });
});
