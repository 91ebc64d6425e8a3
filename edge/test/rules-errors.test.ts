import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { createMissingIndexes, rulesChannel } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { ADMIN, listenForRuleChanges } from "./rules-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

async function expectError(response: Response, status: number, code: string, paths: string[] = []) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(body.error.details.map((detail) => detail.path).sort()).toEqual([...paths].sort());
  return body;
}

describe("when a rule write is invalid", () => {
  let edge: Edge;
  let listener: Awaited<ReturnType<typeof listenForRuleChanges>>;
  beforeAll(async () => {
    edge = await createTestEdge();
    await createMissingIndexes(edge.deps.db, edge.deps.log);
    listener = await listenForRuleChanges(edge.deps.config.REDIS_PREFIX);
    const at = new Date();
    // A rule stored under an id that is not its event type, as an older release might have written it.
    await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).insertMany([
      {
        _id: "legacy-1",
        event_type: "legacy_type",
        points: 1,
        active: true,
        label: "L",
        created_at: at,
        updated_at: at,
      },
      {
        _id: "purchase",
        event_type: "purchase",
        points: 100,
        active: true,
        label: "P",
        created_at: at,
        updated_at: at,
      },
    ]);
  });
  afterAll(async () => {
    listener.close();
    await edge.close();
  });

  const send = (method: string, path: string, body: string, headers: Record<string, string> = ADMIN) =>
    edge.app.request(path, { method, headers, body });
  const post = (body: unknown) => send("POST", "/api/rules", JSON.stringify(body));
  const put = (id: string, body: unknown) => send("PUT", `/api/rules/${id}`, JSON.stringify(body));

  it("answers 409 for an event type that already has a rule", async () => {
    const body = await expectError(await post({ event_type: "purchase", points: 5 }), 409, "CONFLICT", ["event_type"]);
    expect(body.error.message).toMatch(/^a rule for purchase already exists/);
  });

  it("answers 409 when the existing rule has another id", async () => {
    await expectError(await post({ event_type: "legacy_type", points: 5 }), 409, "CONFLICT", ["event_type"]);
  });

  it("answers 400 for points outside -1000..1000 or not whole", async () => {
    for (const points of [1001, -1001, 2.5, "10", null, Number.MAX_SAFE_INTEGER + 2]) {
      await expectError(await post({ event_type: "x_type", points }), 400, "VALIDATION_FAILED", ["points"]);
      await expectError(await put("purchase", { points }), 400, "VALIDATION_FAILED", ["points"]);
    }
  });

  it("answers 400 naming each bad field of a new rule", async () => {
    await expectError(await post({}), 400, "VALIDATION_FAILED", ["event_type", "points"]);
    await expectError(await post({ event_type: "Page View", points: 1 }), 400, "VALIDATION_FAILED", ["event_type"]);
    await expectError(await post({ event_type: "a".repeat(65), points: 1 }), 400, "VALIDATION_FAILED", ["event_type"]);
    await expectError(await post({ event_type: "ok", points: 1, label: "" }), 400, "VALIDATION_FAILED", ["label"]);
    await expectError(await post({ event_type: "ok", points: 1, label: "x".repeat(101) }), 400, "VALIDATION_FAILED", [
      "label",
    ]);
    await expectError(await post({ event_type: "ok", points: 1, active: "yes" }), 400, "VALIDATION_FAILED", ["active"]);
    await expectError(await post({ event_type: "ok", points: 1, _id: "a b" }), 400, "VALIDATION_FAILED", ["_id"]);
    await expectError(await post({ event_type: "ok", points: 1, rule_id: "x" }), 400, "VALIDATION_FAILED", ["rule_id"]);
  });

  it("answers 400 for an update that changes nothing or touches the event type", async () => {
    await expectError(await put("purchase", {}), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(await put("purchase", { event_type: "other" }), 400, "VALIDATION_FAILED", ["event_type"]);
    await expectError(await put("purchase", { label: "  " }), 400, "VALIDATION_FAILED", ["label"]);
  });

  it("answers 404 for a rule that does not exist", async () => {
    await expectError(await put("nothing_here", { points: 1 }), 404, "NOT_FOUND");
    await expectError(await send("DELETE", "/api/rules/nothing_here", ""), 404, "NOT_FOUND");
  });

  it("answers 400 for a rule id outside the id alphabet", async () => {
    await expectError(await put("a%20b", { points: 1 }), 400, "VALIDATION_FAILED", ["id"]);
    await expectError(await send("DELETE", "/api/rules/a%20b", ""), 400, "VALIDATION_FAILED", ["id"]);
  });

  it("answers 400, 413 and 415 for bodies that are not small JSON objects", async () => {
    await expectError(await send("POST", "/api/rules", "{"), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(await send("POST", "/api/rules", "[1]"), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(await send("PUT", "/api/rules/purchase", "null"), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(
      await send("POST", "/api/rules", JSON.stringify({ event_type: "big", points: 1, label: "x".repeat(17_000) })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    await expectError(
      await send("POST", "/api/rules", "event_type=x&points=1", {
        authorization: ADMIN.authorization,
        "content-type": "application/x-www-form-urlencoded",
      }),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
  });

  it("answers 400 for query parameters on the rules list", async () => {
    await expectError(await edge.read("/api/rules?active=true"), 400, "VALIDATION_FAILED", ["active"]);
  });

  it("announces nothing and changes nothing after refused writes", async () => {
    expect((await post({ event_type: "purchase", points: 5 })).status).toBe(409);
    expect((await post({ event_type: "Page View", points: 5 })).status).toBe(400);
    expect((await put("purchase", { points: 5000 })).status).toBe(400);
    expect((await put("nothing_here", { points: 5 })).status).toBe(404);
    expect((await send("DELETE", "/api/rules/nothing_here", "")).status).toBe(404);
    const rules = await edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules).find({}).sort({ _id: 1 }).toArray();
    expect(rules.map((rule) => [rule._id, rule.points])).toEqual([
      ["legacy-1", 1],
      ["purchase", 100],
    ]);
    // Published after the refused writes on the same channel: once it arrives, any announcement of theirs has too.
    const marker = { change: "marker", rule_id: "none", at: "" };
    const publisher = new Redis(REDIS_URL);
    try {
      await publisher.publish(rulesChannel(edge.deps.config.REDIS_PREFIX), JSON.stringify(marker));
    } finally {
      publisher.disconnect();
    }
    await eventually(async () => listener.messages.length > 0);
    expect(listener.messages).toEqual([marker]);
  });
});
