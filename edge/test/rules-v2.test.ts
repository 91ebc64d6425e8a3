import { COLLECTIONS, type Condition, type RuleSet, type RuleSetDocument } from "@leadscore/contracts";
import { readRuleSet } from "@leadscore/runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { RuleOutputSchema } from "../src/routes/rules/rule.ts";
import { createRulesEdge } from "./rules-fixtures.ts";

type RulesEdge = Awaited<ReturnType<typeof createRulesEdge>>;
type Edge = RulesEdge["edge"];
type Listener = RulesEdge["listener"];
type Send = RulesEdge["send"];
type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

const NOW = Date.parse("2026-03-01T12:00:00.000Z");
const PRICING: Condition = { field: "metadata.path", op: "starts_with", value: "/pricing" };

describe("when rules carry conditions, limits and groups", () => {
  let edge: Edge;
  let listener: Listener;
  let send: Send;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ edge, listener, send, close } = await createRulesEdge({ now: () => NOW }));
  });
  afterAll(() => close());
  // Each test starts from a deployment without rules, groups or versions.
  beforeEach(async () => {
    for (const name of [COLLECTIONS.rules, COLLECTIONS.ruleGroups, COLLECTIONS.ruleSets, COLLECTIONS.meta]) {
      await edge.deps.db.collection(name).deleteMany({});
    }
    listener.messages.length = 0;
  });

  const version = (response: Response) => Number(response.headers.get("x-rules-version"));
  const created = async (path: string, body: unknown) => {
    const response = await send("POST", path, body);
    expect(response.status).toBe(201);
    return response;
  };
  const errorOf = async (response: Response, status: number) => {
    expect(response.status).toBe(status);
    return ((await response.json()) as ErrorBody).error;
  };

  it("creates a rule with where, limit and group, and lists it with the version", async () => {
    await created("/api/rule-groups", { _id: "web", label: "Web", max: 200 });
    const response = await created("/api/rules", {
      _id: "pricing",
      label: "Pricing page",
      event_type: "page_view",
      where: PRICING,
      points: 20,
      limit: { max: 3, per: "day" },
      group: "web",
    });
    expect(version(response)).toBe(2);
    expect(response.headers.get("location")).toBe("/api/rules/pricing");
    const rule = await response.json();
    expect(rule).toEqual({
      _id: "pricing",
      label: "Pricing page",
      event_type: "page_view",
      where: PRICING,
      points: 20,
      limit: { max: 3, per: "day" },
      group: "web",
      active: true,
      created_at: "2026-03-01T12:00:00.000Z",
      updated_at: "2026-03-01T12:00:00.000Z",
    });
    const list = await edge.read("/api/rules");
    expect(list.headers.get("x-rules-version")).toBe("2");
    expect(await list.json()).toEqual([rule]);
    expect(() => RuleOutputSchema.parse(rule)).not.toThrow();
  });

  it("stores every write as the next version that a worker's readRuleSet reads, version and content", async () => {
    expect((await readRuleSet(edge.deps.db)).version).toBe(0);
    await created("/api/rule-groups", { _id: "email", label: "Email", max: 60 });
    await created("/api/rules", { event_type: "page_view", points: 5 });
    await created("/api/rules", {
      _id: "open",
      event_type: "email_open",
      points: 5,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
    });
    const put = await send("PUT", "/api/rules/page_view", { where: PRICING, points: 20 });
    expect(put.status).toBe(200);
    expect(version(put)).toBe(4);
    const set = await readRuleSet(edge.deps.db);
    expect(set).toEqual({
      version: 4,
      groups: [{ _id: "email", label: "Email", max: 60 }],
      rules: [
        { _id: "page_view", label: "Page View", event_type: "page_view", where: PRICING, points: 20, active: true },
        {
          _id: "open",
          label: "Email Open",
          event_type: "email_open",
          points: 5,
          limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
          group: "email",
          active: true,
        },
      ],
    } satisfies RuleSet);
    // Earlier versions stay as they were made.
    const first = await edge.deps.db.collection<RuleSetDocument>(COLLECTIONS.ruleSets).findOne({ _id: 2 });
    expect((JSON.parse(first?.set ?? "{}") as RuleSet).rules).toEqual([
      { _id: "page_view", label: "Page View", event_type: "page_view", points: 5, active: true },
    ]);
    const deleted = await send("DELETE", "/api/rules/page_view");
    expect(version(deleted)).toBe(5);
    expect((await readRuleSet(edge.deps.db)).rules.map((rule) => rule._id)).toEqual(["open"]);
    expect(
      await eventually(async () => listener.messages.find((m) => m.change === "deleted" && m.rule_id === "page_view")),
    ).toMatchObject({ rules_version: 5 });
  });

  it("makes exactly one version per write under concurrent writes, each holding every write before it", async () => {
    await created("/api/rules", { event_type: "seed_type", points: 1 });
    const writes = 12;
    const responses = await Promise.all(
      Array.from({ length: writes }, (_, i) => send("POST", "/api/rules", { event_type: `type_${i}`, points: i })),
    );
    expect(responses.map((response) => response.status)).toEqual(responses.map(() => 201));
    const versions = responses.map(version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: writes }, (_, i) => i + 2));
    const stored = await edge.deps.db
      .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
      .find({})
      .sort({ _id: 1 })
      .toArray();
    expect(stored.map((doc) => doc._id)).toEqual(Array.from({ length: writes + 1 }, (_, i) => i + 1));
    for (const doc of stored) {
      const set = JSON.parse(doc.set) as RuleSet;
      // Version v holds the first rule and the v - 1 created before it: no write lost, none counted twice.
      expect(set.version).toBe(doc._id);
      expect(set.rules).toHaveLength(doc._id);
    }
    const latest = await readRuleSet(edge.deps.db);
    expect(latest.version).toBe(writes + 1);
    expect(latest.rules).toHaveLength(writes + 1);
  });

  it("keeps every concurrent change of one rule in the version that follows it", async () => {
    await created("/api/rules", { event_type: "page_view", points: 5 });
    const responses = await Promise.all([
      send("PUT", "/api/rules/page_view", { points: 7 }),
      send("PUT", "/api/rules/page_view", { label: "Views" }),
      send("PUT", "/api/rules/page_view", { limit: { max: 2, per: "week" } }),
    ]);
    expect(responses.map(version).sort()).toEqual([2, 3, 4]);
    const set = await readRuleSet(edge.deps.db);
    expect(set.rules).toEqual([
      {
        _id: "page_view",
        label: "Views",
        event_type: "page_view",
        points: 7,
        limit: { max: 2, per: "week" },
        active: true,
      },
    ]);
  });

  it("gives a second rule of a type with a condition an id of its own", async () => {
    await created("/api/rules", { event_type: "page_view", points: 1 });
    const response = await created("/api/rules", { event_type: "page_view", where: PRICING, points: 20 });
    const rule = (await response.json()) as { _id: string; label: string };
    expect(rule._id).toMatch(/^page_view-[0-9a-f]{8}$/);
    expect(rule.label).toBe("Page View");
    expect(response.headers.get("location")).toBe(`/api/rules/${rule._id}`);
    const list = (await (await edge.read("/api/rules")).json()) as { _id: string }[];
    expect(list.map((r) => r._id)).toEqual(["page_view", rule._id]);
  });

  it("answers 409 for a second rule of a type without where, and for a taken id", async () => {
    await created("/api/rules", { event_type: "page_view", where: PRICING, points: 20 });
    await created("/api/rules", { event_type: "page_view", points: 1 });
    const second = await errorOf(await send("POST", "/api/rules", { event_type: "page_view", points: 2 }), 409);
    expect(second.details).toEqual([{ path: "event_type", message: "already has a rule without where" }]);
    // Removing the condition of the conditional one would make two such rules too.
    const [conditional] = ((await (await edge.read("/api/rules")).json()) as { _id: string; where?: unknown }[])
      .filter((rule) => rule.where !== undefined)
      .map((rule) => rule._id);
    expect((await send("PUT", `/api/rules/${conditional}`, { where: null })).status).toBe(409);
    const taken = await errorOf(
      await send("POST", "/api/rules", { _id: "page_view", event_type: "other", points: 2 }),
      409,
    );
    expect(taken.details).toEqual([{ path: "_id", message: "is taken" }]);
    expect((await readRuleSet(edge.deps.db)).version).toBe(2);
  });

  it("changes the fields given and removes where, limit and group given null", async () => {
    await created("/api/rule-groups", { _id: "web", label: "Web", max: 100 });
    await created("/api/rules", {
      _id: "pricing",
      event_type: "page_view",
      where: PRICING,
      points: 20,
      limit: { max: 3, per: "day" },
      group: "web",
    });
    const response = await send("PUT", "/api/rules/pricing", { where: null, limit: null, group: null });
    expect(response.status).toBe(200);
    const rule = await response.json();
    expect(rule).toMatchObject({ _id: "pricing", points: 20, label: "Page View", active: true });
    expect(rule).not.toHaveProperty("where");
    expect(rule).not.toHaveProperty("limit");
    expect(rule).not.toHaveProperty("group");
    const stored = await edge.deps.db.collection(COLLECTIONS.rules).findOne({ _id: "pricing" as never });
    expect(Object.keys(stored ?? {}).sort()).toEqual(
      ["_id", "active", "created_at", "event_type", "label", "points", "updated_at"].sort(),
    );
  });

  it("answers 400 naming the path of each bound broken, and stores nothing", async () => {
    const leaf = (value: unknown) => ({ field: "metadata.path", op: "eq", value });
    const cases: [unknown, string][] = [
      [{ all: [leaf("a"), leaf("b"), leaf("x".repeat(257))] }, "where.all[2].value"],
      [{ not: { not: { not: { not: { not: { not: leaf("a") } } } } } }, "where.not.not.not.not.not.not"],
      [{ any: Array.from({ length: 33 }, () => leaf("a")) }, "where"],
      [{ all: [{ field: "metadata.path", op: "regex", value: ".*" }] }, "where.all[0].op"],
      [{ all: [{ field: "lead.phone", op: "eq", value: "1" }] }, "where.all[0].field"],
    ];
    for (const [where, path] of cases) {
      const error = await errorOf(await send("POST", "/api/rules", { event_type: "page_view", where, points: 1 }), 400);
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.details.map((detail) => detail.path)).toContain(path);
    }
    const limit = await errorOf(
      await send("POST", "/api/rules", { event_type: "page_view", points: 1, limit: { max: 0, per: "hour" } }),
      400,
    );
    expect(limit.details.map((detail) => detail.path).sort()).toEqual(["limit.max", "limit.per"]);
    expect(await edge.deps.db.collection(COLLECTIONS.rules).countDocuments()).toBe(0);
    expect(await edge.deps.db.collection(COLLECTIONS.ruleSets).countDocuments()).toBe(0);
  });

  it("answers 400 at group for a rule naming a group that does not exist", async () => {
    const error = await errorOf(
      await send("POST", "/api/rules", { event_type: "page_view", points: 1, group: "nope" }),
      400,
    );
    expect(error.details).toEqual([{ path: "group", message: "names no group of this rule set" }]);
    await created("/api/rules", { event_type: "page_view", points: 1 });
    const put = await errorOf(await send("PUT", "/api/rules/page_view", { group: "nope" }), 400);
    expect(put.details).toEqual([{ path: "group", message: "names no group of this rule set" }]);
  });

  it("answers 400 for the 201st rule", async () => {
    const at = new Date(NOW);
    await edge.deps.db.collection(COLLECTIONS.rules).insertMany(
      Array.from({ length: 200 }, (_, i) => ({
        _id: `r${i}` as never,
        event_type: `t${i}`,
        points: 1,
        active: true,
        label: `R${i}`,
        created_at: at,
        updated_at: at,
      })),
    );
    const error = await errorOf(await send("POST", "/api/rules", { event_type: "one_more", points: 1 }), 400);
    expect(error.details).toEqual([{ path: "(body)", message: "the rule set must hold at most 200 rules" }]);
    expect(await edge.deps.db.collection(COLLECTIONS.rules).countDocuments()).toBe(200);
  });
});
