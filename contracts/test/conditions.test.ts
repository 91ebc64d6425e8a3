import { describe, expect, it } from "vitest";
import {
  type Condition,
  type ConditionLeaf,
  compileCondition,
  conditionProblems,
  type LeadProfile,
  MAX_CONDITION_DEPTH,
  MAX_CONDITION_LEAVES,
  MAX_CONDITION_VALUE_LENGTH,
} from "../src/index.ts";

const metadata = {
  path: "/pricing/Team",
  plan: "Pro",
  seats: 12,
  trial: false,
  nothing: null,
  utm: { source: "Newsletter", campaign: { id: "c-7" } },
  tags: ["a", "b"],
};
const lead: LeadProfile = { email: "Ada@Example.com", company: "Analytical", name: null };

const holds = (condition: Condition, profile: LeadProfile | null = lead) =>
  compileCondition(condition).test({ metadata, lead: profile });
const leaf = (field: string, op: ConditionLeaf["op"], value: ConditionLeaf["value"], extra = {}): ConditionLeaf => ({
  field,
  op,
  value,
  ...extra,
});

describe("a condition leaf", () => {
  it.each([
    ["eq", "metadata.plan", "Pro", true],
    ["eq", "metadata.plan", "pro", false],
    ["eq", "metadata.seats", 12, true],
    ["eq", "metadata.seats", "12", false],
    ["eq", "metadata.trial", false, true],
    ["neq", "metadata.plan", "Free", true],
    ["neq", "metadata.plan", "Pro", false],
    ["in", "metadata.plan", ["Free", "Pro"], true],
    ["in", "metadata.seats", [1, 12], true],
    ["in", "metadata.plan", ["Free"], false],
    ["nin", "metadata.plan", ["Free"], true],
    ["nin", "metadata.plan", ["Pro", "Free"], false],
    ["contains", "metadata.path", "cing/T", true],
    ["contains", "metadata.path", "blog", false],
    ["starts_with", "metadata.path", "/pricing", true],
    ["starts_with", "metadata.path", "/blog", false],
    ["ends_with", "metadata.path", "/Team", true],
    ["ends_with", "metadata.path", "/team", false],
    ["glob", "metadata.path", "/pricing/*", true],
    ["glob", "metadata.path", "/p?icing/T*m", true],
    ["glob", "metadata.path", "/blog/*", false],
    ["exists", "metadata.plan", true, true],
    ["exists", "metadata.plan", false, false],
    ["gt", "metadata.seats", 11, true],
    ["gt", "metadata.seats", 12, false],
    ["gte", "metadata.seats", 12, true],
    ["gte", "metadata.seats", 13, false],
    ["lt", "metadata.seats", 13, true],
    ["lt", "metadata.seats", 12, false],
    ["lte", "metadata.seats", 12, true],
    ["lte", "metadata.seats", 11, false],
  ] as const)("%s on %s with %j holds: %s", (op, field, value, expected) => {
    expect(holds(leaf(field, op, value as ConditionLeaf["value"]))).toBe(expected);
  });

  it("reads nested metadata, array items and the lead's profile", () => {
    expect(holds(leaf("metadata.utm.campaign.id", "eq", "c-7"))).toBe(true);
    expect(holds(leaf("metadata.tags.1", "eq", "b"))).toBe(true);
    expect(holds(leaf("lead.email", "ends_with", "@example.com", { case: "insensitive" }))).toBe(true);
    expect(holds(leaf("lead.company", "eq", "Analytical"))).toBe(true);
  });

  describe("when the field is missing", () => {
    const missing = ["metadata.absent", "metadata.utm.absent.deeper", "metadata.nothing", "lead.name"];

    it.each(missing)("%s fails every positive operator", (field) => {
      for (const [op, value] of [
        ["eq", "x"],
        ["in", ["x"]],
        ["contains", ""],
        ["starts_with", ""],
        ["ends_with", ""],
        ["glob", "*"],
        ["exists", true],
        ["gt", -1],
        ["gte", -1],
        ["lt", 1e9],
        ["lte", 1e9],
      ] as const) {
        expect({ op, holds: holds(leaf(field, op, value as ConditionLeaf["value"])) }).toEqual({ op, holds: false });
      }
    });

    it.each(missing)("%s passes neq, nin and exists: false (they are the negations)", (field) => {
      expect(holds(leaf(field, "neq", "x"))).toBe(true);
      expect(holds(leaf(field, "nin", ["x"]))).toBe(true);
      expect(holds(leaf(field, "exists", false))).toBe(true);
    });

    it("reads no lead field when the profile is unknown", () => {
      expect(holds(leaf("lead.email", "exists", true), null)).toBe(false);
    });

    it("never finds what metadata inherits", () => {
      expect(holds(leaf("metadata.toString", "exists", true))).toBe(false);
      expect(holds(leaf("metadata.path.length", "exists", true))).toBe(false);
    });
  });

  it("compares strings and numbers by type: a number field never starts with anything", () => {
    expect(holds(leaf("metadata.seats", "starts_with", "1"))).toBe(false);
    expect(holds(leaf("metadata.plan", "gt", 0))).toBe(false);
  });

  describe('with "case": "insensitive"', () => {
    it.each([
      ["eq", "metadata.plan", "PRO"],
      ["neq", "metadata.plan", "free"],
      ["in", "metadata.plan", ["pro"]],
      ["contains", "metadata.path", "PRICING/team"],
      ["starts_with", "metadata.path", "/PRICING"],
      ["ends_with", "metadata.path", "/TEAM"],
      ["glob", "metadata.path", "/PRICING/t*"],
      ["eq", "metadata.utm.source", "newsletter"],
    ] as const)("%s %s %j holds, and not without it", (op, field, value) => {
      const sensitive = leaf(field, op, value as ConditionLeaf["value"]);
      expect(holds({ ...sensitive, case: "insensitive" })).toBe(true);
      expect(holds(sensitive)).toBe(op === "neq");
    });

    it("nin refuses any case of a listed value", () => {
      expect(holds(leaf("metadata.plan", "nin", ["pro"]))).toBe(true);
      expect(holds(leaf("metadata.plan", "nin", ["pro"], { case: "insensitive" }))).toBe(false);
    });
  });
});

describe("a condition tree", () => {
  const pricing = leaf("metadata.path", "starts_with", "/pricing");
  const blog = leaf("metadata.path", "starts_with", "/blog");

  it("combines with all, any and not", () => {
    expect(holds({ all: [pricing, leaf("metadata.seats", "gte", 10)] })).toBe(true);
    expect(holds({ all: [pricing, blog] })).toBe(false);
    expect(holds({ any: [blog, pricing] })).toBe(true);
    expect(holds({ any: [blog] })).toBe(false);
    expect(holds({ not: blog })).toBe(true);
    expect(holds({ not: { any: [blog, pricing] } })).toBe(false);
  });

  it("says why it does not hold", () => {
    const input = { metadata, lead };
    expect(compileCondition({ all: [pricing, blog] }).why(input)).toBe(
      'metadata.path must start with "/blog"; it is "/pricing/Team"',
    );
    expect(compileCondition({ any: [blog, leaf("metadata.x", "eq", 1)] }).why(input)).toBe(
      'none of: metadata.path must start with "/blog"; it is "/pricing/Team" | metadata.x must equal 1; it is missing',
    );
    expect(compileCondition({ not: pricing }).why(input)).toBe(`must not hold: ${JSON.stringify(pricing)}`);
    expect(compileCondition(leaf("metadata.plan", "eq", "pro", { case: "insensitive" })).why(input)).toBeNull();
  });
});

describe("the bounds of a condition tree", () => {
  const ok = leaf("metadata.a", "eq", 1);
  const nest = (depth: number): Condition => (depth === 1 ? ok : { not: nest(depth - 1) });

  it(`accepts ${MAX_CONDITION_DEPTH} levels and refuses one more, naming where`, () => {
    expect(conditionProblems(nest(MAX_CONDITION_DEPTH))).toEqual([]);
    expect(conditionProblems(nest(MAX_CONDITION_DEPTH + 1))).toEqual([
      { path: Array(MAX_CONDITION_DEPTH).fill("not"), message: `nests deeper than ${MAX_CONDITION_DEPTH} levels` },
    ]);
  });

  it(`accepts ${MAX_CONDITION_LEAVES} leaves and refuses one more`, () => {
    expect(conditionProblems({ all: Array(MAX_CONDITION_LEAVES).fill(ok) })).toEqual([]);
    expect(conditionProblems({ any: [{ all: Array(MAX_CONDITION_LEAVES).fill(ok) }, ok] })).toEqual([
      { path: [], message: `holds ${MAX_CONDITION_LEAVES + 1} conditions, more than ${MAX_CONDITION_LEAVES}` },
    ]);
  });

  it(`accepts values of ${MAX_CONDITION_VALUE_LENGTH} characters and refuses longer ones`, () => {
    const at = "x".repeat(MAX_CONDITION_VALUE_LENGTH);
    expect(conditionProblems(leaf("metadata.a", "contains", at))).toEqual([]);
    expect(conditionProblems({ all: [ok, ok, leaf("metadata.a", "in", ["a", `${at}x`])] })).toEqual([
      { path: ["all", 2, "value", 1], message: `must be at most ${MAX_CONDITION_VALUE_LENGTH} characters` },
    ]);
  });

  it.each([
    [leaf("metadata.a", "gt", "5"), ["value"], "must be a number"],
    [leaf("metadata.a", "in", []), ["value"], "must hold at least one value"],
    [leaf("metadata.a", "exists", "yes"), ["value"], "must be true or false"],
    [leaf("metadata.a", "gt", 5, { case: "insensitive" }), ["case"], "applies to string operators only, not gt"],
    [{ field: "metadata.a", op: "eq", value: { nested: 1 } }, ["value"], "must be a string, a number or a boolean"],
    [{ field: "metadata.a", op: "eq" }, ["value"], "is required"],
    [{ field: "metadata.a", op: "matches", value: ".*" }, ["op"], expect.stringMatching(/^must be one of eq, neq/)],
    [leaf("event.type", "eq", 1), ["field"], expect.stringMatching(/^must be metadata\.<path>/)],
    [leaf("metadata.$where", "eq", 1), ["field"], 'key "$where" cannot be a metadata key'],
    [leaf("metadata.__proto__", "eq", 1), ["field"], 'key "__proto__" cannot be a metadata key'],
    [leaf("lead.phone", "eq", 1), ["field"], expect.stringMatching(/lead\.email, lead\.company or lead\.name$/)],
    [{ ...leaf("metadata.a", "eq", 1), extra: 1 }, [], "unknown field(s): extra"],
    [{ all: [] }, ["all"], "must be an array of at least one condition"],
    [{ any: [ok], not: ok }, [], 'unknown field(s) beside "any": not'],
    [{ all: [ok, "x"] }, ["all", 1], "must be an object: { all }, { any }, { not } or { field, op, value }"],
  ])("refuses %j at %j", (tree, path, message) => {
    expect(conditionProblems(tree)).toEqual([{ path, message }]);
  });
});
