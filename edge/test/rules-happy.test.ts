import { COLLECTIONS, DEFAULT_RULES, type RuleDocument } from "@leadscore/contracts";
import { createMissingIndexes } from "@leadscore/runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually } from "../../test-support/index.ts";
import { RuleOutputSchema } from "../src/routes/rules/rule.ts";
import { ADMIN, listenForRuleChanges } from "./rules-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type RuleBody = { _id: string; event_type: string; points: number; active: boolean; label: string };

const NOW = Date.parse("2026-03-01T12:00:00.000Z");

describe("when managing rules", () => {
  let edge: Edge;
  let listener: Awaited<ReturnType<typeof listenForRuleChanges>>;
  beforeAll(async () => {
    edge = await createTestEdge({}, { now: () => NOW });
    await createMissingIndexes(edge.deps.db, edge.deps.log);
    listener = await listenForRuleChanges(edge.deps.config.REDIS_PREFIX);
  });
  afterAll(async () => {
    listener.close();
    await edge.close();
  });
  // Each test starts from no rules and no announcements, and creates the rules it works on.
  beforeEach(async () => {
    await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).deleteMany({});
    listener.messages.length = 0;
  });
  // Pub/sub delivery is asynchronous: wait for the announcement rather than expecting it at once.
  const announced = (change: string, ruleId: string) =>
    eventually(async () => listener.messages.find((m) => m.change === change && m.rule_id === ruleId), 2000);

  const send = (method: string, path: string, body?: unknown) =>
    edge.app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
  const create = async (body: Record<string, unknown>) => {
    expect((await send("POST", "/api/rules", body)).status).toBe(201);
  };

  it("lists no rules before any exist", async () => {
    const response = await edge.read("/api/rules");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);
  });

  it("creates a rule with its event type as id, announcing it to the workers", async () => {
    const response = await send("POST", "/api/rules", { event_type: "webinar_signup", points: 35 });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/api/rules/webinar_signup");
    expect(await response.json()).toEqual({
      _id: "webinar_signup",
      event_type: "webinar_signup",
      points: 35,
      active: true,
      label: "Webinar Signup",
      created_at: "2026-03-01T12:00:00.000Z",
      updated_at: "2026-03-01T12:00:00.000Z",
    });
    expect(await announced("created", "webinar_signup")).toEqual({
      change: "created",
      rule_id: "webinar_signup",
      at: "2026-03-01T12:00:00.000Z",
      rules_version: expect.any(Number),
    });
  });

  it("creates an inactive, negative rule with its own label", async () => {
    const response = await send("POST", "/api/rules", {
      event_type: "unsubscribe",
      points: -50,
      label: "  Unsubscribed  ",
      active: false,
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ points: -50, label: "Unsubscribed", active: false });
  });

  it("accepts the bounds of points", async () => {
    expect((await send("POST", "/api/rules", { event_type: "max_points", points: 1000 })).status).toBe(201);
    expect((await send("POST", "/api/rules", { event_type: "min_points", points: -1000 })).status).toBe(201);
  });

  it("lists every rule by event type", async () => {
    for (const event_type of ["webinar_signup", "min_points", "unsubscribe", "max_points"]) {
      await create({ event_type, points: 10 });
    }
    const response = await edge.read("/api/rules");
    const body = (await response.json()) as RuleBody[];
    expect(body.map((rule) => rule.event_type)).toEqual(["max_points", "min_points", "unsubscribe", "webinar_signup"]);
    for (const rule of body) expect(() => RuleOutputSchema.parse(rule)).not.toThrow();
  });

  it("updates points, label and active, announcing the change", async () => {
    await create({ event_type: "webinar_signup", points: 35 });
    const response = await send("PUT", "/api/rules/webinar_signup", { points: 40, label: "Webinar", active: false });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ _id: "webinar_signup", points: 40, label: "Webinar", active: false });
    expect(await announced("updated", "webinar_signup")).toEqual({
      change: "updated",
      rule_id: "webinar_signup",
      at: "2026-03-01T12:00:00.000Z",
      rules_version: expect.any(Number),
    });
  });

  it("updates one field and leaves the others", async () => {
    await create({ event_type: "webinar_signup", points: 40, label: "Webinar", active: false });
    const response = await send("PUT", "/api/rules/webinar_signup", { active: true });
    expect(await response.json()).toMatchObject({ points: 40, label: "Webinar", active: true });
  });

  it("deletes a rule with 204, announcing it", async () => {
    await create({ event_type: "min_points", points: -1000 });
    const response = await send("DELETE", "/api/rules/min_points");
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(await announced("deleted", "min_points")).toEqual({
      change: "deleted",
      rule_id: "min_points",
      at: "2026-03-01T12:00:00.000Z",
      rules_version: expect.any(Number),
    });
    const stored = await edge.deps.db.collection(COLLECTIONS.rules).findOne({ _id: "min_points" as never });
    expect(stored).toBeNull();
  });

  it("accepts the admin token in X-Admin-Token", async () => {
    await create({ event_type: "max_points", points: 1000 });
    const response = await edge.app.request("/api/rules/max_points", {
      method: "DELETE",
      headers: { "x-admin-token": "test-admin-token" },
    });
    expect(response.status).toBe(204);
  });
});

describe("when listing event types", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());
  // Each test starts from a fresh deployment: no rules, and no record of a seed.
  beforeEach(async () => {
    await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).deleteMany({});
    await edge.deps.db.collection(COLLECTIONS.meta).deleteMany({});
  });

  it("seeds the default rules on a fresh deployment and lists them", async () => {
    const response = await edge.read("/api/events/event-types");
    expect(response.status).toBe(200);
    const expected = DEFAULT_RULES.map((rule) => ({ value: rule.event_type, label: rule.label, points: rule.points }));
    expect(await response.json()).toEqual(expected.sort((a, b) => a.value.localeCompare(b.value)));
  });

  it("lists the stored active rules once there are any", async () => {
    const at = new Date();
    await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).insertMany([
      {
        _id: "purchase",
        event_type: "purchase",
        points: 150,
        active: true,
        label: "Purchase",
        created_at: at,
        updated_at: at,
      },
      { _id: "trial", event_type: "trial", points: 70, active: true, label: "Trial", created_at: at, updated_at: at },
      { _id: "spam", event_type: "spam", points: -10, active: false, label: "Spam", created_at: at, updated_at: at },
    ]);
    const response = await edge.read("/api/events/event-types");
    expect(await response.json()).toEqual([
      { value: "purchase", label: "Purchase", points: 150 },
      { value: "trial", label: "Trial", points: 70 },
    ]);
  });

  it("lists a type scored by several rules once: its rule without where, else its conditional rule with most points", async () => {
    const at = new Date();
    const rule = (_id: string, event_type: string, points: number, where?: string, active = true): RuleDocument => ({
      _id,
      event_type,
      points,
      active,
      label: _id,
      ...(where !== undefined && { where }),
      created_at: at,
      updated_at: at,
    });
    const pricing = JSON.stringify({ field: "metadata.path", op: "starts_with", value: "/pricing" });
    await edge.deps.db
      .collection<RuleDocument>(COLLECTIONS.rules)
      .insertMany([
        rule("pricing", "page_view", 20, pricing),
        rule("view", "page_view", 1),
        rule("company_demo", "demo_request", 50, pricing),
        rule("big_demo", "demo_request", 80, pricing),
        rule("any_demo", "demo_request", 90, undefined, false),
        rule("b_trial", "trial", 30, pricing),
        rule("a_trial", "trial", 30, pricing),
      ]);
    const response = await edge.read("/api/events/event-types");
    expect(await response.json()).toEqual([
      { value: "demo_request", label: "big_demo", points: 80 },
      { value: "page_view", label: "view", points: 1 },
      { value: "trial", label: "a_trial", points: 30 },
    ]);
  });
});
