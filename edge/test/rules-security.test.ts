import { COLLECTIONS, type MetaDocument, type RuleDocument } from "@leadscore/contracts";
import { createMissingIndexes, DEFAULT_RULES_SEEDED } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { ADMIN } from "./rules-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

describe("when rule writes are not authorised or carry operators", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ CORS_ORIGINS: "https://admin.example.com" });
    await createMissingIndexes(edge.deps.db, edge.deps.log);
    const at = new Date();
    // A deployment whose rule set is this one rule: seeded long ago, so reading the event types adds no default.
    await edge.deps.db.collection<MetaDocument>(COLLECTIONS.meta).insertOne({ _id: DEFAULT_RULES_SEEDED, at });
    await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).insertOne({
      _id: "purchase",
      event_type: "purchase",
      points: 100,
      active: true,
      label: "P",
      created_at: at,
      updated_at: at,
    });
  });
  afterAll(() => edge.close());

  const stored = () => edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).find({}).toArray();
  const writes = [
    ["POST", "/api/rules", JSON.stringify({ event_type: "free_points", points: 1000 })],
    ["PUT", "/api/rules/purchase", JSON.stringify({ points: 1000 })],
    ["DELETE", "/api/rules/purchase", ""],
    ["POST", "/api/rules/test", JSON.stringify({ event: { event_type: "purchase" } })],
    ["POST", "/api/rule-groups", JSON.stringify({ label: "Free", max: 1000 })],
  ] as const;

  it("answers 401 to every write without a token and 403 with a wrong one", async () => {
    for (const [method, path, body] of writes) {
      const anonymous = await edge.app.request(path, { method, body, headers: { "content-type": "application/json" } });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      const wrong = await edge.app.request(path, {
        method,
        body,
        headers: { "content-type": "application/json", "x-admin-token": "test-admin-tokem" },
      });
      expect(wrong.status, `${method} ${path}`).toBe(403);
    }
    expect(await stored()).toMatchObject([{ _id: "purchase", points: 100 }]);
  });

  it("does not accept the write key as an admin token", async () => {
    const response = await edge.app.request("/api/rules/purchase", {
      method: "DELETE",
      headers: { authorization: "Bearer test-write-key" },
    });
    expect(response.status).toBe(403);
  });

  it("does not accept a read token as an admin token", async () => {
    const response = await edge.app.request("/api/rules/purchase", {
      method: "DELETE",
      headers: { authorization: "Bearer test-read-token" },
    });
    expect(response.status).toBe(403);
    expect(await stored()).toHaveLength(1);
  });

  it("refuses operator objects in rule bodies", async () => {
    for (const [method, path, body] of [
      ["POST", "/api/rules", { event_type: { $gt: "" }, points: 1 }],
      ["POST", "/api/rules", { event_type: "x", points: { $inc: 5 } }],
      ["PUT", "/api/rules/purchase", { points: 1, $set: { event_type: "other" } }],
      ["PUT", "/api/rules/purchase", { label: { $where: "1" } }],
      ["PUT", "/api/rules/purchase", { active: { $ne: false } }],
      ["PUT", "/api/rules/purchase", { group: { $ne: null } }],
      ["POST", "/api/rules", { event_type: "x", points: 1, where: { $where: "1" } }],
      [
        "POST",
        "/api/rules",
        { event_type: "x", points: 1, where: { field: "metadata.a", op: "eq", value: { $gt: "" } } },
      ],
    ] as const) {
      const response = await edge.app.request(path, { method, headers: ADMIN, body: JSON.stringify(body) });
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(await stored()).toMatchObject([{ _id: "purchase", event_type: "purchase", points: 100, label: "P" }]);
  });

  it("refuses operator-shaped rule ids", async () => {
    for (const id of ["%24ne", "%7B%22%24gt%22%3A%22%22%7D", "%24where"]) {
      const response = await edge.app.request(`/api/rules/${id}`, { method: "DELETE", headers: ADMIN });
      expect(response.status, id).toBe(400);
    }
    expect(await stored()).toHaveLength(1);
  });

  it("answers CORS only to listed origins", async () => {
    const listed = await edge.app.request("/api/rules", {
      method: "OPTIONS",
      headers: { origin: "https://admin.example.com", "access-control-request-method": "PUT" },
    });
    expect(listed.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    expect(listed.headers.get("access-control-allow-methods")).toMatch(/PUT/);
    const list = await edge.read("/api/rules", { headers: { origin: "https://admin.example.com" } });
    expect(list.headers.get("access-control-expose-headers")).toMatch(/X-Rules-Version/);
    const unlisted = await edge.read("/api/events/event-types", { headers: { origin: "https://x.example" } });
    expect(unlisted.status).toBe(200);
    expect(unlisted.headers.get("access-control-allow-origin")).toBeNull();
    const types = await edge.read("/api/events/event-types", {
      headers: { origin: "https://admin.example.com" },
    });
    expect(types.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
  });
});
