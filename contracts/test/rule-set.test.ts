import { describe, expect, it } from "vitest";
import {
  compileRuleSet,
  MAX_RULES,
  parseRule,
  parseRuleGroup,
  parseRuleSet,
  type RuleSet,
  type RuleV2,
} from "../src/index.ts";

const rule = (overrides: Partial<RuleV2> & Pick<RuleV2, "_id" | "event_type" | "points">): RuleV2 => ({
  label: overrides._id,
  active: true,
  ...overrides,
});

/** The README's example: pricing pages 20 at most 3 a day, email opens 5 once per email, group email at most 60. */
const SET: RuleSet = {
  version: 7,
  groups: [{ _id: "email", label: "Email", max: 60 }],
  rules: [
    rule({ _id: "page_view", event_type: "page_view", points: 5 }),
    rule({
      _id: "pricing",
      event_type: "page_view",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 3, per: "day" },
    }),
    rule({
      _id: "open",
      event_type: "email_open",
      points: 5,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
    }),
    rule({
      _id: "gmail_demo",
      event_type: "demo_request",
      where: { field: "lead.email", op: "ends_with", value: "@gmail.com", case: "insensitive" },
      points: -30,
    }),
    rule({ _id: "demo", event_type: "demo_request", points: 50 }),
    rule({ _id: "old", event_type: "page_view", points: 1000, active: false }),
  ],
};

describe("a rule as a client writes it", () => {
  it("keeps the v1 shape valid: an event type and points, active by default", () => {
    expect(parseRule({ event_type: "purchase", points: 100 })).toEqual({
      ok: true,
      value: { event_type: "purchase", points: 100, active: true },
    });
  });

  it("names every problem by its path, indexes in brackets", () => {
    const result = parseRule({
      event_type: "page_view",
      points: 1.5,
      where: { all: [{ field: "metadata.a", op: "eq", value: 1 }, { any: [{ field: "metadata.b", op: "gt" }] }] },
      limit: { max: 0, per: "hour", key: "metadata.$x" },
    });
    expect(result).toEqual({
      ok: false,
      details: [
        { path: "where.all[1].any[0].value", message: "is required" },
        { path: "points", message: "must be an integer" },
        { path: "limit.max", message: "must be at least 1" },
        { path: "limit.per", message: "must be one of lifetime, day, week, month" },
        { path: "limit.key", message: 'key "$x" cannot be a metadata key' },
      ],
    });
  });

  it("names an over-long value as where.all[2].value", () => {
    const leaf = { field: "metadata.a", op: "eq", value: "x" };
    const result = parseRule({
      event_type: "page_view",
      points: 1,
      where: { all: [leaf, leaf, { ...leaf, value: "x".repeat(257) }] },
    });
    expect(result).toEqual({
      ok: false,
      details: [{ path: "where.all[2].value", message: "must be at most 256 characters" }],
    });
  });

  it("checks a group", () => {
    expect(parseRuleGroup({ label: "Email", max: 60 })).toEqual({ ok: true, value: { label: "Email", max: 60 } });
    expect(parseRuleGroup({ label: "", max: -1 })).toEqual({
      ok: false,
      details: [
        { path: "label", message: "must not be empty" },
        { path: "max", message: "must be at least 1" },
      ],
    });
  });
});

describe("a rule set", () => {
  it("parses the example", () => {
    expect(parseRuleSet(SET)).toEqual({ ok: true, value: SET });
  });

  it(`holds at most ${MAX_RULES} rules`, () => {
    const rules = (n: number) =>
      Array.from({ length: n }, (_, i) => rule({ _id: `r${i}`, event_type: "page_view", points: 1 }));
    expect(parseRuleSet({ version: 1, groups: [], rules: rules(MAX_RULES) }).ok).toBe(true);
    expect(parseRuleSet({ version: 1, groups: [], rules: rules(MAX_RULES + 1) })).toEqual({
      ok: false,
      details: [{ path: "rules", message: `must hold at most ${MAX_RULES} rules` }],
    });
  });

  it("refuses a rule naming no group of the set, and ids taken twice", () => {
    const result = parseRuleSet({
      ...SET,
      groups: [...SET.groups, { _id: "email", label: "Again", max: 1 }],
      rules: [...SET.rules, rule({ _id: "open", event_type: "x", points: 1, group: "web" })],
    });
    expect(result).toEqual({
      ok: false,
      details: [
        { path: "groups[1]._id", message: "is taken" },
        { path: "rules[6]._id", message: "is taken" },
        { path: "rules[6].group", message: "names no group of this rule set" },
      ],
    });
  });
});

describe("a compiled rule set", () => {
  const compiled = compileRuleSet(SET);

  it("indexes its active rules by event type", () => {
    expect([...compiled.eventTypes].sort()).toEqual(["demo_request", "email_open", "page_view"]);
    expect(compiled.version).toBe(7);
  });

  it("matches every rule whose condition holds, in rule-set order, and their points add up", () => {
    expect(compiled.match({ event_type: "page_view", metadata: { path: "/pricing/team" } })).toEqual([
      { rule_id: "page_view", points: 5 },
      { rule_id: "pricing", points: 20, limit: { max: 3, per: "day" } },
    ]);
    expect(compiled.match({ event_type: "page_view", metadata: { path: "/blog" } })).toEqual([
      { rule_id: "page_view", points: 5 },
    ]);
  });

  it("stores the limit's key value and the group's max with the candidate", () => {
    expect(compiled.match({ event_type: "email_open", metadata: { email_id: "n-42" } })).toEqual([
      {
        rule_id: "open",
        points: 5,
        limit: { max: 1, per: "lifetime", field: "metadata.email_id", key: "n-42" },
        group: { id: "email", max: 60 },
      },
    ]);
    const [withNumber] = compiled.match({ event_type: "email_open", metadata: { email_id: 42 } });
    expect(withNumber?.limit?.key).toBe("42");
    const [without] = compiled.match({ event_type: "email_open" });
    expect(without?.limit).toEqual({ max: 1, per: "lifetime", field: "metadata.email_id" });
  });

  it("reads the lead's profile when it is given", () => {
    const demo = { event_type: "demo_request", metadata: {} };
    expect(compiled.match(demo, { email: "Someone@GMAIL.com" }).map((c) => c.rule_id)).toEqual(["gmail_demo", "demo"]);
    expect(compiled.match(demo, { email: "cto@example.com" }).map((c) => c.rule_id)).toEqual(["demo"]);
    expect(compiled.match(demo).map((c) => c.rule_id)).toEqual(["demo"]);
  });

  it("matches nothing for a type no active rule scores", () => {
    expect(compiled.match({ event_type: "purchase", metadata: {} })).toEqual([]);
  });

  it("explains why every other rule did not match", () => {
    expect(compiled.explain({ event_type: "page_view", metadata: { path: "/blog" } })).toEqual({
      rules_version: 7,
      matched: [{ rule_id: "page_view", points: 5 }],
      missed: [
        { rule_id: "pricing", label: "pricing", reason: 'metadata.path must start with "/pricing"; it is "/blog"' },
        { rule_id: "open", label: "open", reason: "the rule scores email_open, not page_view" },
        { rule_id: "gmail_demo", label: "gmail_demo", reason: "the rule scores demo_request, not page_view" },
        { rule_id: "demo", label: "demo", reason: "the rule scores demo_request, not page_view" },
        { rule_id: "old", label: "old", reason: "the rule is inactive" },
      ],
    });
  });

  it("shares one frozen candidate between the events of a rule without a limit key", () => {
    const [first] = compiled.match({ event_type: "demo_request" });
    const [second] = compiled.match({ event_type: "demo_request" });
    expect(first).toBe(second);
    expect(Object.isFrozen(first)).toBe(true);
  });
});
