// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { describe, expect, it, vi } from "vitest";
import { type Api, ApiRequestError, type Page } from "../src/lib/api.ts";
import { formatDateTime } from "../src/lib/format.ts";
import {
  ADMIN_NEEDED,
  type DeliveryItem,
  isFailing,
  REFRESH_MS,
  WebhooksModel,
  webhookState,
} from "../src/webhooks/model.ts";
import { DISABLED_HOOK, HOOK, page } from "./fakes.ts";

const delivery = (id: string, status: DeliveryItem["status"], codes: (number | null)[] = []): DeliveryItem => ({
  id,
  webhook_id: `msg_${id}`,
  type: "lead.stage_changed",
  lead_id: "ada",
  status,
  created_at: "2026-03-01T12:00:00.000Z",
  next_attempt_at: null,
  attempts: codes.map((code) => ({
    at: "2026-03-01T12:00:01.000Z",
    status_code: code,
    latency_ms: 5,
    response: "",
    error: null,
  })),
  payload: { type: "lead.stage_changed", data: { lead_id: "ada" } },
});

/** An admin API answering by method and path. */
function adminApi(answer: (method: string, path: string, body: unknown) => unknown) {
  const admin = vi.fn(async (method: string, path: string, _token: string, body?: unknown) => {
    const result = answer(method, path, body);
    if (result instanceof Error) throw result;
    return (Array.isArray(result) ? page(result) : page(result === undefined ? [] : [result])) as Page<never>;
  });
  return { admin: admin as unknown as Api["admin"], calls: admin.mock.calls };
}

describe("a delivery", () => {
  it("is failing when given up, or pending after an attempt", () => {
    expect(isFailing(delivery("1", "failed", [500]))).toBe(true);
    expect(isFailing(delivery("2", "pending", [503]))).toBe(true);
    expect(isFailing(delivery("3", "pending"))).toBe(false);
    expect(isFailing(delivery("4", "delivered", [200]))).toBe(false);
  });
});

describe("a subscription's state", () => {
  const time = (iso: string) => iso.slice(0, 16);

  it("is active with nothing to say while its receiver accepts deliveries", () => {
    expect(webhookState(HOOK, time)).toEqual({ status: "active", label: "Active", details: [] });
  });

  it("is paused when turned off by hand", () => {
    expect(webhookState({ ...HOOK, active: false }, time)).toEqual({ status: "paused", label: "Paused", details: [] });
  });

  it("is disabled with why and when, since when it fails, its backlog and what was dropped", () => {
    expect(webhookState(DISABLED_HOOK, time)).toEqual({
      status: "disabled",
      label: "Disabled",
      details: [
        "its receiver accepted no delivery for 3 days (WEBHOOK_DISABLE_AFTER_MS) (disabled 2026-03-04T12:00)",
        "failing since 2026-03-01T12:00",
        "100000 pending",
        "42 dropped: the backlog was full",
      ],
    });
  });

  it("says since when an active one fails, before it is disabled", () => {
    const failing = { ...HOOK, failing_since: "2026-03-02T09:30:00.000Z", pending: 3 };
    expect(webhookState(failing, time)).toEqual({
      status: "failing",
      label: "Failing since 2026-03-02T09:30",
      details: ["3 pending"],
    });
  });

  it("says moments in the app's date format unless told otherwise", () => {
    const failing = { ...HOOK, failing_since: "2026-03-02T09:30:00.000Z" };
    expect(webhookState(failing).label).toBe(`Failing since ${formatDateTime("2026-03-02T09:30:00.000Z")}`);
  });
});

describe("the webhooks model", () => {
  it("calls nothing without the admin token, and says to sign in with it", async () => {
    const api = adminApi(() => []);
    const model = new WebhooksModel({ api, token: signal("") });
    await model.load();
    expect(model.tokenError.value).toBeNull();
    await model.create();
    expect(api.calls).toHaveLength(0);
    expect(model.tokenError.value).toMatch(/admin token/);
  });

  it("creates a webhook and shows its secret once, with a copy button", async () => {
    const api = adminApi((method) => (method === "POST" ? { ...HOOK, secret: "whsec_abc" } : []));
    const copied: string[] = [];
    const model = new WebhooksModel({
      api,
      token: signal("admin-token"),
      clipboard: async (text) => void copied.push(text),
    });
    await model.load();
    model.setField("url", " https://crm.example.com/hooks ");
    model.toggleEvent("lead.created", true);
    await model.create();
    expect(api.calls.at(-1)?.slice(0, 2)).toEqual(["POST", "/api/webhooks"]);
    expect(api.calls.at(-1)?.[3]).toEqual({
      url: "https://crm.example.com/hooks",
      events: ["lead.stage_changed", "lead.created"],
    });
    expect(model.secret.value).toEqual({ id: "wh_1", secret: "whsec_abc" });
    expect(model.webhooks.value[0]?.secret).toBeUndefined();
    await model.copySecret();
    expect(copied).toEqual(["whsec_abc"]);
    expect(model.copied.value).toBe(true);
    model.dismissSecret();
    expect(model.secret.value).toBeNull();
  });

  it("puts the API's validation details on their fields", async () => {
    const refusal = new ApiRequestError(400, "VALIDATION_FAILED", "invalid body", [
      { path: "url", message: "must not be a loopback, link-local or private address" },
    ]);
    const model = new WebhooksModel({ api: adminApi(() => refusal), token: signal("admin-token") });
    await model.create();
    expect(model.createErrors.value.fields.url).toMatch(/private/);
  });

  it("pauses, shows the log filtered by status, and retries a delivery", async () => {
    const api = adminApi((method, path) => {
      if (method === "PUT") return { ...HOOK, active: false };
      if (path.includes("/retry")) return delivery("7", "pending");
      if (path.startsWith("/api/webhooks/wh_1/deliveries")) return [delivery("7", "failed", [500, 500])];
      return [HOOK];
    });
    const model = new WebhooksModel({ api, token: signal("admin-token") });
    await model.load();
    // The subscriptions carry their state: nothing else is read to say it.
    expect(api.calls.map((call) => call[1])).toEqual(["/api/webhooks"]);
    await model.setActive("wh_1", false);
    expect(model.webhooks.value[0]?.active).toBe(false);

    await model.showLog("wh_1");
    await model.setFilter("failed");
    expect(api.calls.at(-1)?.[1]).toBe("/api/webhooks/wh_1/deliveries?limit=20&status=failed");
    expect(model.deliveries.value.map((item) => item.status)).toEqual(["failed"]);
    await model.retry("7");
    expect(api.calls.at(-1)?.slice(0, 2)).toEqual(["POST", "/api/webhooks/wh_1/deliveries/7/retry"]);
    expect(model.deliveries.value.map((item) => item.status)).toEqual(["pending"]);
    expect(model.notice.value).toMatch(/^Sent again/);
  });

  it("reads the subscriptions and the open log again while the page is shown", async () => {
    vi.useFakeTimers();
    try {
      const api = adminApi((_method, path) => (path.includes("/deliveries") ? [delivery("7", "pending")] : [HOOK]));
      const model = new WebhooksModel({ api, token: signal("admin-token") });
      await model.load();
      await model.showLog("wh_1");
      const stop = model.activate();
      const before = api.calls.length;
      await vi.advanceTimersByTimeAsync(REFRESH_MS);
      expect(api.calls.slice(before).map((call) => call[1])).toEqual([
        "/api/webhooks",
        "/api/webhooks/wh_1/deliveries?limit=20",
      ]);
      stop();
      await vi.advanceTimersByTimeAsync(REFRESH_MS);
      expect(api.calls.length).toBe(before + 2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("sends a test event and deletes a webhook", async () => {
    const api = adminApi((method) =>
      method === "GET" ? [HOOK] : method === "POST" ? delivery("8", "pending") : undefined,
    );
    const model = new WebhooksModel({ api, token: signal("admin-token") });
    await model.load();
    await model.sendTest("wh_1");
    expect(model.notice.value).toMatch(/Test event queued/);
    await model.remove("wh_1");
    expect(api.calls.at(-1)?.slice(0, 2)).toEqual(["DELETE", "/api/webhooks/wh_1"]);
    expect(model.webhooks.value).toEqual([]);
  });

  it("blames the token when the API refuses it", async () => {
    const model = new WebhooksModel({
      api: adminApi(() => new ApiRequestError(403, "FORBIDDEN", "the admin token is not valid")),
      token: signal("read-token"),
    });
    await model.load();
    expect(model.tokenError.value).toMatch(/sign in again with the admin token/);
  });

  it("stops reacting once disposed: not to the token, and no refresh timer left", async () => {
    vi.useFakeTimers();
    try {
      const api = adminApi(() => [HOOK]);
      const token = signal("");
      const model = new WebhooksModel({ api, token });
      model.activate();
      await model.create();
      expect(model.tokenError.value).toBe(ADMIN_NEEDED);
      model[Symbol.dispose]();
      expect(vi.getTimerCount()).toBe(0);
      token.value = "admin-token";
      await vi.advanceTimersByTimeAsync(REFRESH_MS * 2);
      expect(model.tokenError.value).toBe(ADMIN_NEEDED);
      expect(api.calls).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});
