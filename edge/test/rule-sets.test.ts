import { COLLECTIONS } from "@leadscore/contracts";
import { readRuleSet } from "@leadscore/runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRulesEdge } from "./rules-fixtures.ts";

type RulesEdge = Awaited<ReturnType<typeof createRulesEdge>>;
type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const AT = "2026-03-01T12:00:00.000Z";

const DEMO = { _id: "demo", label: "Demo", event_type: "demo_request", points: 50, active: true };
const VIEW = { _id: "view", label: "View", event_type: "page_view", points: 5, active: true };

describe("rule-set versions and the draft", () => {
  let rules: RulesEdge;
  beforeAll(async () => {
    rules = await createRulesEdge({ now: () => NOW });
  });
  afterAll(() => rules.close());
  beforeEach(async () => {
    for (const name of [
      COLLECTIONS.rules,
      COLLECTIONS.ruleGroups,
      COLLECTIONS.ruleSets,
      COLLECTIONS.ruleDrafts,
      COLLECTIONS.meta,
    ]) {
      await rules.edge.deps.db.collection(name).deleteMany({});
    }
    rules.listener.messages.length = 0;
  });

  const write = async (method: string, path: string, body?: unknown) => {
    const response = await rules.send(method, path, body);
    expect(response.status, `${method} ${path}`).toBeLessThan(300);
    return response.json();
  };
  const read = async (path: string) => rules.edge.read(path);
  const errorOf = async (response: Response, status: number) => {
    expect(response.status).toBe(status);
    return ((await response.json()) as ErrorBody).error;
  };

  it("answers 404 for the draft before one is started", async () => {
    expect(await errorOf(await read("/api/rule-sets/draft"), 404)).toEqual({
      code: "NOT_FOUND",
      message: "no draft: POST /api/rule-sets/draft starts one",
      details: [],
    });
  });

  it("starts a draft as a copy of the version in force, and editing it changes nothing live", async () => {
    await write("POST", "/api/rules", { _id: "demo", label: "Demo", event_type: "demo_request", points: 50 });
    const started = await rules.send("POST", "/api/rule-sets/draft");
    expect(started.status).toBe(201);
    expect(started.headers.get("location")).toBe("/api/rule-sets/draft");
    expect(await started.json()).toEqual({
      rules: [DEMO],
      groups: [],
      based_on: 1,
      created_at: AT,
      updated_at: AT,
      updated_by: "admin",
    });

    const doubled = { rules: [{ ...DEMO, points: 100 }, VIEW], groups: [], half_life_seconds: 86_400 };
    const saved = await rules.send("PUT", "/api/rule-sets/draft", doubled);
    expect(saved.status).toBe(200);
    const draft = { ...doubled, based_on: 1, created_at: AT, updated_at: AT, updated_by: "admin" };
    expect(await saved.json()).toEqual(draft);
    expect(await (await read("/api/rule-sets/draft")).json()).toEqual(draft);

    // Nothing live moved: the version in force, the rules API's list, and no reload was announced.
    expect(await readRuleSet(rules.edge.deps.db)).toEqual({ version: 1, rules: [DEMO], groups: [] });
    expect(((await (await read("/api/rules")).json()) as { points: number }[]).map((r) => r.points)).toEqual([50]);
    expect(rules.listener.messages.map((m) => m.change)).toEqual(["created"]);
  });

  it("refuses an invalid set with each problem at its path, as the rules API checks a write", async () => {
    const response = await rules.send("PUT", "/api/rule-sets/draft", {
      rules: [
        { ...DEMO, points: 5000 },
        { ...VIEW, group: "nowhere" },
        { ...VIEW, _id: "view-2" },
      ],
      groups: [],
      half_life_seconds: 0,
      extra: true,
    });
    expect(await errorOf(response, 400)).toEqual({
      code: "VALIDATION_FAILED",
      message: "invalid rule set",
      details: [
        { path: "extra", message: "unknown field" },
        { path: "rules[0].points", message: "must be at most 1000" },
        { path: "rules[1].group", message: "names no group of this rule set" },
        { path: "half_life_seconds", message: "must be at least 1" },
      ],
    });
    // The bounds hold, so the cross-rule checks speak: a group named by no group, a second plain rule of a type.
    const second = await rules.send("PUT", "/api/rule-sets/draft", {
      rules: [
        { ...VIEW, group: "nowhere" },
        { ...VIEW, _id: "view-2" },
      ],
      groups: [],
    });
    expect((await errorOf(second, 400)).details).toEqual([
      { path: "rules[0].group", message: "names no group of this rule set" },
    ]);
    const plain = await rules.send("PUT", "/api/rule-sets/draft", {
      rules: [VIEW, { ...VIEW, _id: "view-2" }],
      groups: [],
    });
    expect((await errorOf(plain, 400)).details).toEqual([
      {
        path: "rules[1].event_type",
        message: 'a rule for page_view already exists (view); a second rule of a type needs a "where"',
      },
    ]);
    expect(await rules.edge.deps.db.collection(COLLECTIONS.ruleDrafts).countDocuments()).toBe(0);
  });

  it("lists every version newest first, with who published it, when and which is in force", async () => {
    await write("POST", "/api/rules", { _id: "demo", label: "Demo", event_type: "demo_request", points: 50 });
    await write("PUT", "/api/rules/demo", { points: 60 });
    const list = await read("/api/rule-sets");
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([
      { version: 2, published_by: "admin", published_at: AT, live: true, source: "rules" },
      { version: 1, published_by: "admin", published_at: AT, live: false, source: "rules" },
    ]);
    const one = await read("/api/rule-sets/1");
    expect(await one.json()).toEqual({
      version: 1,
      published_by: "admin",
      published_at: AT,
      live: false,
      source: "rules",
      rules: [DEMO],
      groups: [],
    });
    expect((await errorOf(await read("/api/rule-sets/9"), 404)).message).toBe("no rule set version 9");
    expect((await errorOf(await read("/api/rule-sets/latest"), 400)).details).toEqual([
      { path: "version", message: "must be a number" },
    ]);
  });

  it("needs the admin token to start or change a draft", async () => {
    const headers = { authorization: "Bearer test-read-token", "content-type": "application/json" };
    const post = await rules.edge.app.request("/api/rule-sets/draft", { method: "POST", headers });
    expect(post.status).toBe(403);
    const put = await rules.edge.app.request("/api/rule-sets/draft", {
      method: "PUT",
      headers,
      body: JSON.stringify({ rules: [], groups: [] }),
    });
    expect(put.status).toBe(403);
    expect(await rules.edge.deps.db.collection(COLLECTIONS.ruleDrafts).countDocuments()).toBe(0);
  });

  it("publishes the draft forward as the next version, and an earlier version again to roll back", async () => {
    await write("POST", "/api/rules", { _id: "demo", label: "Demo", event_type: "demo_request", points: 50 });
    await write("POST", "/api/rule-sets/draft");
    await write("PUT", "/api/rule-sets/draft", {
      rules: [{ ...DEMO, points: 100 }],
      groups: [],
      half_life_seconds: 3600,
    });
    const published = await rules.send("POST", "/api/rule-sets/draft/publish", { mode: "forward", webhooks: "send" });
    expect(published.status).toBe(200);
    expect(await published.json()).toEqual({
      version: 2,
      published_by: "admin",
      published_at: AT,
      live: true,
      source: "draft",
      mode: "forward",
      webhooks: "send",
    });
    expect(await readRuleSet(rules.edge.deps.db)).toEqual({
      version: 2,
      rules: [{ ...DEMO, points: 100 }],
      groups: [],
      half_life_seconds: 3600,
    });
    // The rules API edits the published set, keeps its half-life, and the draft was used up.
    expect(((await (await read("/api/rules")).json()) as { points: number }[]).map((r) => r.points)).toEqual([100]);
    expect((await read("/api/rule-sets/draft")).status).toBe(404);
    await write("PUT", "/api/rules/demo", { label: "Demo request" });
    expect(await readRuleSet(rules.edge.deps.db)).toMatchObject({ version: 3, half_life_seconds: 3600 });

    const rollback = await rules.send("POST", "/api/rule-sets/1/publish", { mode: "forward" });
    expect(rollback.status).toBe(200);
    expect(await rollback.json()).toMatchObject({ version: 4, source: "version", restores: 1, webhooks: "suppress" });
    expect(await readRuleSet(rules.edge.deps.db)).toEqual({ version: 4, rules: [DEMO], groups: [] });
    expect(rules.listener.messages.filter((m) => m.change === "published").map((m) => m.rules_version)).toEqual([2, 4]);
    expect(
      ((await (await read("/api/rule-sets")).json()) as { version: number; live: boolean }[]).map((v) => [
        v.version,
        v.live,
      ]),
    ).toEqual([
      [4, true],
      [3, false],
      [2, false],
      [1, false],
    ]);
  });

  it("refuses an unknown mode and an unknown version", async () => {
    await write("POST", "/api/rules", { _id: "demo", label: "Demo", event_type: "demo_request", points: 50 });
    await write("POST", "/api/rule-sets/draft");
    const refused = await rules.send("POST", "/api/rule-sets/draft/publish", { mode: "backwards" });
    expect((await errorOf(refused, 400)).details).toEqual([
      { path: "mode", message: 'must be "forward" or "retroactive"' },
    ]);
    expect(
      (await errorOf(await rules.send("POST", "/api/rule-sets/7/publish", { mode: "forward" }), 404)).message,
    ).toBe("no rule set version 7");
    expect((await readRuleSet(rules.edge.deps.db)).version).toBe(1);
  });
});
