// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { describe, expect, it, vi } from "vitest";
import { ApiRequestError } from "../src/lib/api.ts";
import { ADMIN_NEEDED, MESSAGE_MS, parsePoints, RulesModel, ruleWriteErrors } from "../src/rules/model.ts";
import { fakeApi, RULES, settle } from "./fakes.ts";

describe("rule write errors", () => {
  it("blame the token for 401 and 403", () => {
    expect(ruleWriteErrors(new ApiRequestError(401, "UNAUTHORIZED", "bad token")).token).toMatch(/bad token/);
    expect(ruleWriteErrors(new ApiRequestError(403, "FORBIDDEN", "no")).token).toMatch(/no/);
  });

  it("put a duplicate type on the event type field", () => {
    const { errors } = ruleWriteErrors(new ApiRequestError(409, "CONFLICT", "a rule for purchase exists"));
    expect(errors.fields.event_type).toBe("a rule for purchase exists");
  });

  it("put validation details on their fields", () => {
    const { errors } = ruleWriteErrors(
      new ApiRequestError(400, "VALIDATION_FAILED", "invalid", [{ path: "points", message: "must be at most 1000" }]),
    );
    expect(errors.fields.points).toBe("must be at most 1000");
  });
});

describe("points text", () => {
  it("parses whole numbers only", () => {
    expect(parsePoints("-50")).toBe(-50);
    expect(parsePoints(" 20 ")).toBe(20);
    expect(parsePoints("1.5")).toBeNull();
    expect(parsePoints("")).toBeNull();
  });
});

describe("the rules model", () => {
  async function setup(token = "t0ken-admin") {
    const api = fakeApi();
    const model = new RulesModel({ api, token: signal(token) });
    await model.load();
    return { api, model };
  }

  it("lists rules by event type", async () => {
    const { model } = await setup();
    expect(model.rules.value.map((rule) => rule.event_type)).toEqual(["email_open", "purchase"]);
  });

  it("saves edited points and active with the admin token", async () => {
    const { api, model } = await setup();
    model.edit("purchase", { points: "150", active: false });
    expect(model.dirty.value.has("purchase")).toBe(true);
    api.listRules.mockResolvedValue(
      RULES.map((rule) => (rule._id === "purchase" ? { ...rule, points: 150, active: false } : rule)),
    );
    await model.save("purchase");
    await settle();
    expect(api.listRules).toHaveBeenCalledTimes(2);
    expect(api.updateRule).toHaveBeenCalledWith("purchase", { points: 150, active: false }, "t0ken-admin");
    expect(model.rules.value.find((rule) => rule._id === "purchase")).toMatchObject({ points: 150, active: false });
    expect(model.dirty.value.has("purchase")).toBe(false);
    expect(model.saved.value.purchase).toBe(true);
  });

  it("saves an edited label, and refuses an empty one beside an invalid points value", async () => {
    const { api, model } = await setup();
    model.edit("purchase", { label: "  Order placed " });
    expect(model.dirty.value.has("purchase")).toBe(true);
    await model.save("purchase");
    expect(api.updateRule).toHaveBeenCalledWith(
      "purchase",
      { points: 100, active: true, label: "Order placed" },
      "t0ken-admin",
    );
    model.edit("email_open", { label: " ", points: "x" });
    await model.save("email_open");
    expect(model.rowErrors.value.email_open).toBe("Points must be a whole number; The label must not be empty");
    expect(api.updateRule).toHaveBeenCalledTimes(1);
  });

  it("sends nothing without the admin token, and says to sign in with it", async () => {
    const { api, model } = await setup("");
    model.edit("purchase", { points: "1" });
    await model.save("purchase");
    expect(api.updateRule).not.toHaveBeenCalled();
    expect(model.tokenError.value).toBe(ADMIN_NEEDED);
  });

  it("reports a refused token on the row and the token field", async () => {
    const { api, model } = await setup();
    api.updateRule.mockRejectedValueOnce(new ApiRequestError(401, "UNAUTHORIZED", "invalid admin token"));
    model.edit("purchase", { points: "1" });
    await model.save("purchase");
    expect(model.tokenError.value).toMatch(/invalid admin token/);
    expect(model.rowErrors.value.purchase).toMatch(/token/);
    expect(model.dirty.value.has("purchase")).toBe(true);
  });

  it("takes a rule written in the rule form into the list, says it was created, and reads the list again", async () => {
    const { api, model } = await setup();
    const webinar = { _id: "w", event_type: "webinar_signup", label: "Webinar signup", points: 30, active: true };
    api.listRules.mockResolvedValue([...RULES, webinar]);
    model.written(webinar, true);
    expect(model.rules.value.map((rule) => rule.event_type)).toContain("webinar_signup");
    expect(model.created.value).toBe("webinar_signup");
    await settle();
    expect(api.listRules).toHaveBeenCalledTimes(2);
  });

  it("names rules by event type, and by type and label where several score one type", async () => {
    const { model } = await setup();
    model.written({ _id: "pricing", event_type: "purchase", label: "Big order", points: 5, active: true }, true);
    expect(model.names.value.get("email_open")).toBe("email_open");
    expect(model.names.value.get("purchase")).toBe("purchase: Purchase");
    expect(model.names.value.get("pricing")).toBe("purchase: Big order");
  });

  it("deletes a rule, says so for a while, and reads the list again", async () => {
    vi.useFakeTimers();
    try {
      const { api, model } = await setup();
      api.listRules.mockResolvedValue(RULES.filter((rule) => rule._id !== "purchase"));
      await model.remove("purchase");
      expect(api.deleteRule).toHaveBeenCalledWith("purchase", "t0ken-admin");
      await vi.advanceTimersByTimeAsync(0);
      expect(model.rules.value.map((rule) => rule._id)).toEqual(["email_open"]);
      expect(model.deleted.value).toBe("purchase");
      await vi.advanceTimersByTimeAsync(MESSAGE_MS);
      expect(model.deleted.value).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("reads the list again when the page is focused", async () => {
    const api = fakeApi();
    const model = new RulesModel({ api, token: signal("t") });
    const stop = model.activate();
    await settle();
    api.listRules.mockResolvedValue(RULES.slice(0, 1));
    window.dispatchEvent(new Event("focus"));
    await settle();
    expect(model.rules.value).toHaveLength(1);
    stop();
  });

  it("stops reacting once disposed: not to the token, not to focus, and no message timer left", async () => {
    vi.useFakeTimers();
    try {
      const api = fakeApi();
      const token = signal("t0ken-admin");
      const model = new RulesModel({ api, token });
      model.activate();
      await vi.advanceTimersByTimeAsync(0);
      api.deleteRule.mockRejectedValueOnce(new ApiRequestError(401, "UNAUTHORIZED", "bad token"));
      await model.remove("purchase");
      model.written({ _id: "w", event_type: "webinar_attended", label: "W", points: 40, active: true }, true);
      expect(model.created.value).toBe("webinar_attended");
      model[Symbol.dispose]();
      expect(vi.getTimerCount()).toBe(0);
      const reads = api.listRules.mock.calls.length;
      token.value = "another-token";
      window.dispatchEvent(new Event("focus"));
      await vi.advanceTimersByTimeAsync(MESSAGE_MS);
      expect(model.tokenError.value).toMatch(/bad token/);
      expect(api.listRules).toHaveBeenCalledTimes(reads);
      expect(model.created.value).toBe("webinar_attended");
    } finally {
      vi.useRealTimers();
    }
  });
});
