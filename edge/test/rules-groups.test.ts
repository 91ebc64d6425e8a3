import { COLLECTIONS } from "@leadscore/contracts";
import { readRuleSet } from "@leadscore/runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { createRulesEdge } from "./rules-fixtures.ts";

type RulesEdge = Awaited<ReturnType<typeof createRulesEdge>>;
type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

const NOW = Date.parse("2026-03-01T12:00:00.000Z");

describe("when managing rule groups", () => {
  let rules: RulesEdge;
  beforeAll(async () => {
    rules = await createRulesEdge({ now: () => NOW });
  });
  afterAll(() => rules.close());
  beforeEach(async () => {
    for (const name of [COLLECTIONS.rules, COLLECTIONS.ruleGroups, COLLECTIONS.ruleSets, COLLECTIONS.meta]) {
      await rules.edge.deps.db.collection(name).deleteMany({});
    }
    rules.listener.messages.length = 0;
  });
  const send = (method: string, path: string, body?: unknown) => rules.send(method, path, body);
  const errorOf = async (response: Response, status: number) => {
    expect(response.status).toBe(status);
    return ((await response.json()) as ErrorBody).error;
  };

  it("creates, reads, lists, changes and deletes a group, each write a version announced to the workers", async () => {
    const created = await send("POST", "/api/rule-groups", { _id: "email", label: "Email", max: 60 });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe("/api/rule-groups/email");
    expect(created.headers.get("x-rules-version")).toBe("1");
    const group = {
      _id: "email",
      label: "Email",
      max: 60,
      created_at: "2026-03-01T12:00:00.000Z",
      updated_at: "2026-03-01T12:00:00.000Z",
    };
    expect(await created.json()).toEqual(group);
    expect(await (await rules.edge.read("/api/rule-groups/email")).json()).toEqual(group);
    const list = await rules.edge.read("/api/rule-groups");
    expect(list.headers.get("x-rules-version")).toBe("1");
    expect(await list.json()).toEqual([group]);

    const updated = await send("PUT", "/api/rule-groups/email", { max: 80 });
    expect(updated.status).toBe(200);
    expect(updated.headers.get("x-rules-version")).toBe("2");
    expect(await updated.json()).toEqual({ ...group, max: 80 });
    expect((await readRuleSet(rules.edge.deps.db)).groups).toEqual([{ _id: "email", label: "Email", max: 80 }]);

    const deleted = await send("DELETE", "/api/rule-groups/email");
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get("x-rules-version")).toBe("3");
    expect(await readRuleSet(rules.edge.deps.db)).toEqual({ version: 3, rules: [], groups: [] });
    expect((await rules.edge.read("/api/rule-groups/email")).status).toBe(404);
    const announced = await eventually(async () =>
      rules.listener.messages.length >= 3 ? rules.listener.messages : undefined,
    );
    expect(announced.map((m) => [m.change, m.group_id, m.rules_version])).toEqual([
      ["created", "email", 1],
      ["updated", "email", 2],
      ["deleted", "email", 3],
    ]);
  });

  it("generates an id when none is given", async () => {
    const created = await send("POST", "/api/rule-groups", { label: "Web", max: 200 });
    expect(created.status).toBe(201);
    const { _id } = (await created.json()) as { _id: string };
    expect(_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.headers.get("location")).toBe(`/api/rule-groups/${_id}`);
  });

  it("answers 409 listing the rules that still name a group it is asked to delete", async () => {
    await send("POST", "/api/rule-groups", { _id: "email", label: "Email", max: 60 });
    await send("POST", "/api/rules", { _id: "open", event_type: "email_open", points: 5, group: "email" });
    await send("POST", "/api/rules", { _id: "click", event_type: "email_click", points: 5, group: "email" });
    const error = await errorOf(await send("DELETE", "/api/rule-groups/email"), 409);
    expect(error.code).toBe("CONFLICT");
    expect(error.message).toMatch(/named by rules open, click/);
    expect(error.details).toEqual([
      { path: "rules", message: "open" },
      { path: "rules", message: "click" },
    ]);
    expect((await readRuleSet(rules.edge.deps.db)).groups).toHaveLength(1);
    // Out of the group, the rules free it.
    await send("PUT", "/api/rules/open", { group: null });
    await send("PUT", "/api/rules/click", { group: null });
    expect((await send("DELETE", "/api/rule-groups/email")).status).toBe(204);
  });

  it("answers 409 for a taken id, 404 for a missing group and 400 naming bad fields", async () => {
    await send("POST", "/api/rule-groups", { _id: "email", label: "Email", max: 60 });
    const taken = await errorOf(await send("POST", "/api/rule-groups", { _id: "email", label: "E", max: 1 }), 409);
    expect(taken.details).toEqual([{ path: "_id", message: "is taken" }]);
    await errorOf(await send("PUT", "/api/rule-groups/nope", { max: 1 }), 404);
    await errorOf(await send("DELETE", "/api/rule-groups/nope"), 404);
    await errorOf(await rules.edge.read("/api/rule-groups/a%20b"), 400);
    const bad = await errorOf(await send("POST", "/api/rule-groups", { label: "", max: 0, extra: 1 }), 400);
    expect(bad.details.map((detail) => detail.path).sort()).toEqual(["extra", "label", "max"]);
    const empty = await errorOf(await send("PUT", "/api/rule-groups/email", {}), 400);
    expect(empty.details.map((detail) => detail.path)).toEqual(["(body)"]);
    expect((await readRuleSet(rules.edge.deps.db)).version).toBe(1);
  });

  it("needs the admin token to write and a read token to read", async () => {
    const write = await rules.edge.app.request("/api/rule-groups", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ label: "Web", max: 1 }),
    });
    expect(write.status).toBe(401);
    expect((await rules.edge.app.request("/api/rule-groups")).status).toBe(401);
    const readToken = await rules.edge.read("/api/rule-groups", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ label: "Web", max: 1 }),
    });
    expect(readToken.status).toBe(403);
  });
});
