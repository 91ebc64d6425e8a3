// @vitest-environment happy-dom
import type { Condition, ConditionLeaf } from "@leadscore/contracts";
import { signal } from "@preact/signals";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ApiRequestError, type RuleItem } from "../src/lib/api.ts";
import { placeErrors } from "../src/lib/form-errors.ts";
import {
  CASE_OPS,
  describeCondition,
  describeLimit,
  parseScalar,
  rowPath,
  rowsOf,
  rowValue,
  scalarText,
  treeOf,
} from "../src/rule-editor/conditions.ts";
import { ADMIN_NEEDED, errorPlaces, formOf, RuleEditorModel } from "../src/rule-editor/model.ts";
import { fakeApi } from "./fakes.ts";

const PRICING: Condition = { field: "metadata.path", op: "starts_with", value: "/pricing" };

describe("condition rows", () => {
  it.each<[string, Condition]>([
    ["a single leaf", PRICING],
    ["a negated leaf", { not: { field: "lead.email", op: "ends_with", value: "@gmail.com", case: "insensitive" } }],
    [
      "leaves joined by all",
      { all: [PRICING, { field: "metadata.plan", op: "in", value: ["gold", "12", 12, true, "a, b"] }] },
    ],
    [
      "leaves joined by any, one negated",
      {
        any: [
          { field: "metadata.score", op: "gte", value: 3.5 },
          { not: { field: "metadata.ref", op: "exists", value: true } },
          { field: "metadata.flag", op: "eq", value: false },
          { field: "metadata.code", op: "eq", value: "007" },
        ],
      },
    ],
  ])("turn %s into rows and back unchanged", (_name, tree) => {
    const rows = rowsOf(tree);
    expect(rows).not.toBeNull();
    expect(treeOf(rows as NonNullable<typeof rows>)).toEqual(tree);
  });

  it("hold no tree as no rows, and make none from none", () => {
    expect(rowsOf(undefined)).toEqual({ combinator: "all", rows: [] });
    expect(treeOf({ combinator: "any", rows: [] })).toBeUndefined();
  });

  it("cannot hold a group inside a group: that tree is edited as JSON", () => {
    const nested: Condition = { all: [PRICING, { any: [PRICING, PRICING] }] };
    expect(rowsOf(nested)).toBeNull();
    expect(formOf({ _id: "r", label: "R", event_type: "page_view", points: 1, active: true, where: nested }).json).toBe(
      JSON.stringify(nested, null, 2),
    );
  });

  it("type values by operator: text for string operators, lists split at commas outside quotes, numbers", () => {
    expect(rowValue("starts_with", " 12 ")).toBe(" 12 ");
    expect(rowValue("eq", "12")).toBe(12);
    expect(rowValue("eq", '"12"')).toBe("12");
    expect(rowValue("eq", "true")).toBe(true);
    expect(rowValue("eq", "gold")).toBe("gold");
    expect(rowValue("in", 'a, "b, c", 3')).toEqual(["a", "b, c", 3]);
    expect(rowValue("gt", "10")).toBe(10);
    expect(rowValue("gt", "ten")).toBe("ten");
    expect(rowValue("exists", "false")).toBe(false);
    expect(parseScalar(scalarText("true"))).toBe("true");
    expect(parseScalar(scalarText(" padded "))).toBe(" padded ");
  });

  it("name each row's path as the edge names it", () => {
    const one = rowsOf(PRICING) as NonNullable<ReturnType<typeof rowsOf>>;
    expect(rowPath(one, 0)).toBe("where");
    const three = rowsOf({ any: [PRICING, { not: PRICING }, PRICING] }) as NonNullable<ReturnType<typeof rowsOf>>;
    expect([0, 1, 2].map((index) => rowPath(three, index))).toEqual([
      "where.any[0]",
      "where.any[1].not",
      "where.any[2]",
    ]);
  });

  it("read in words", () => {
    expect(describeCondition({ all: [PRICING, { not: { field: "lead.email", op: "exists", value: true } }] })).toBe(
      'metadata.path starts with "/pricing" and not lead.email exists',
    );
    expect(describeCondition({ not: { any: [PRICING, { field: "metadata.n", op: "lt", value: 2 }] } })).toBe(
      'not (metadata.path starts with "/pricing" or metadata.n < 2)',
    );
    expect(describeLimit({ max: 3, per: "day" })).toBe("at most 3 a day");
    expect(describeLimit({ max: 1, per: "lifetime", key: "metadata.email_id" })).toBe(
      "at most once ever per metadata.email_id",
    );
    // A matched candidate names the key field `field` and carries the event's value as `key`.
    expect(describeLimit({ max: 1, per: "lifetime", field: "metadata.email_id", key: "n-42" })).toBe(
      "at most once ever per metadata.email_id",
    );
  });
});

describe("placing problems by path", () => {
  it("puts each on the deepest place it falls within, the rest of its path in the message", () => {
    const placed = placeErrors(
      [
        { path: "where.all[2].value", message: "must be a number" },
        { path: "where.all[0].value[3]", message: "must be at most 256 characters" },
        { path: "where", message: "holds 40 conditions, more than 32" },
        { path: "limit.max", message: "must be at least 1" },
        { path: "color", message: "unknown" },
      ],
      ["where", "where.all[0].value", "where.all[2].value", "limit.max"],
    );
    expect(placed.at).toEqual({
      "where.all[2].value": "must be a number",
      "where.all[0].value": "[3]: must be at most 256 characters",
      where: "holds 40 conditions, more than 32",
      "limit.max": "must be at least 1",
    });
    expect(placed.form).toEqual(["color: unknown"]);
  });
});

describe("the rule form", () => {
  function setup(token = "admin-1") {
    const api = fakeApi();
    const saved: [RuleItem, boolean][] = [];
    const problems: string[] = [];
    const model = new RuleEditorModel({
      api,
      token: signal(token),
      onSaved: (rule, created) => saved.push([rule, created]),
      onTokenProblem: (message) => problems.push(message),
    });
    return { api, model, saved, problems };
  }

  function fill(model: RuleEditorModel) {
    model.set("event_type", "page_view");
    model.set("points", "20");
    model.addRow("metadata.path");
    const key = model.form.value.rows[0]?.key as number;
    model.updateRow(key, { op: "starts_with", value: "/pricing" });
    model.set("limited", true);
    model.set("limitMax", "3");
    model.set("limitPer", "day");
  }

  it("creates the rule the rows and limit say", async () => {
    const { api, model, saved } = setup();
    fill(model);
    model.set("group", "web");
    await model.submit();
    expect(api.createRule).toHaveBeenCalledWith(
      {
        event_type: "page_view",
        where: PRICING,
        points: 20,
        limit: { max: 3, per: "day" },
        group: "web",
        active: true,
      },
      "admin-1",
    );
    expect(saved).toHaveLength(1);
    expect(saved[0]?.[1]).toBe(true);
    expect(model.form.value.event_type).toBe("");
  });

  it("reports every problem at once, each at its path, with the edge's own schema", async () => {
    const { api, model } = setup();
    model.addRow("metadata.");
    model.addRow("metadata.size");
    const [first, second] = model.form.value.rows.map((row) => row.key) as [number, number];
    model.updateRow(first, { field: "metadata.$where", value: "x" });
    model.updateRow(second, { op: "gt", value: "big" });
    model.set("limited", true);
    model.set("limitMax", "0");
    model.set("limitKey", "nowhere");
    await model.submit();
    expect(api.createRule).not.toHaveBeenCalled();
    const at = model.errors.value.at;
    expect(at.event_type).toBe("Enter the event type, e.g. webinar_attended");
    expect(at.points).toBe("Enter a whole number between −1000 and 1000");
    expect(at["where.all[0].field"]).toMatch(/cannot be a metadata key/);
    expect(at["where.all[1].value"]).toBe("must be a number");
    expect(at["limit.max"]).toBe("must be at least 1");
    expect(at["limit.key"]).toMatch(/must be metadata/);
    expect(model.errors.value.form).toEqual([]);
    // Every place a problem landed is one the form shows.
    expect(Object.keys(at).every((path) => errorPlaces(model.form.value).includes(path))).toBe(true);
  });

  it("bounds values as the edge does: a value over 256 characters is refused at its row", async () => {
    const { api, model } = setup();
    fill(model);
    model.updateRow(model.form.value.rows[0]?.key as number, { value: "x".repeat(257) });
    await model.submit();
    // One row is the tree's root: its value's path is `where.value`.
    expect(model.errors.value.at["where.value"]).toBe("must be at most 256 characters");
    expect(api.createRule).not.toHaveBeenCalled();
  });

  it("clears a row's problem when the row is edited", async () => {
    const { model } = setup();
    fill(model);
    model.addRow("metadata.n");
    const second = model.form.value.rows[1]?.key as number;
    model.updateRow(second, { op: "gt", value: "x" });
    await model.submit();
    expect(model.errors.value.at["where.all[1].value"]).toBe("must be a number");
    model.updateRow(second, { value: "3" });
    expect(model.errors.value.at["where.all[1].value"]).toBeUndefined();
  });

  it("shows the edge's refusal at the field its path names", async () => {
    const { api, model } = setup();
    fill(model);
    api.createRule.mockRejectedValueOnce(
      new ApiRequestError(400, "VALIDATION_FAILED", "invalid", [{ path: "group", message: "names no group" }]),
    );
    await model.submit();
    expect(model.errors.value.at.group).toBe("names no group");
    api.createRule.mockRejectedValueOnce(
      new ApiRequestError(409, "CONFLICT", "a rule for page_view already exists (page_view)", [
        { path: "event_type", message: "already has a rule without where" },
      ]),
    );
    await model.submit();
    expect(model.errors.value.at.event_type).toBe("a rule for page_view already exists (page_view)");
    api.createRule.mockRejectedValueOnce(
      new ApiRequestError(409, "CONFLICT", "a rule pricing already exists", [{ path: "_id", message: "is taken" }]),
    );
    await model.submit();
    expect(model.errors.value.at._id).toBe("a rule pricing already exists");
  });

  it("saves an edited rule whole, removing the condition, limit and group it no longer has", async () => {
    const { api, model, saved } = setup();
    model.edit({
      _id: "pricing",
      label: "Pricing",
      event_type: "page_view",
      where: PRICING,
      points: 20,
      limit: { max: 3, per: "day" },
      group: "web",
      active: true,
    });
    expect(model.form.value.rows).toHaveLength(1);
    model.removeRow(model.form.value.rows[0]?.key as number);
    model.set("limited", false);
    model.set("group", "");
    model.set("points", "25");
    await model.submit();
    expect(api.updateRule).toHaveBeenCalledWith(
      "pricing",
      { label: "Pricing", event_type: "page_view", points: 25, active: true, where: null, limit: null, group: null },
      "admin-1",
    );
    expect(saved[0]?.[1]).toBe(false);
    expect(model.editing.value).toBeNull();
  });

  it("switches to JSON for any tree and back to rows when they can hold it", async () => {
    const { model } = setup();
    fill(model);
    model.useJson();
    expect(JSON.parse(model.form.value.json ?? "")).toEqual(PRICING);
    model.set("json", JSON.stringify({ all: [PRICING, { any: [PRICING] }] }));
    model.useRows();
    expect(model.errors.value.at.where).toMatch(/Only a list of conditions/);
    model.set("json", JSON.stringify({ any: [PRICING, { not: PRICING }] }));
    model.useRows();
    expect(model.form.value.json).toBeNull();
    expect(model.form.value.combinator).toBe("any");
    expect(model.form.value.rows.map((row) => row.negate)).toEqual([false, true]);
  });

  it("sends nothing without the admin token, and says so", async () => {
    const { api, model, problems } = setup("");
    fill(model);
    await model.submit();
    expect(api.createRule).not.toHaveBeenCalled();
    expect(model.errors.value.form).toEqual([ADMIN_NEEDED]);
    expect(problems).toEqual([ADMIN_NEEDED]);
  });
});

describe("any tree of rows' shape", () => {
  const text = fc.string({ maxLength: 12, unit: fc.constantFrom("a", "1", " ", ",", '"', "\\", ".", "-", "e", "/") });
  const number = fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Object.is(value, -0)),
  );
  const scalar = fc.oneof(text, number, fc.boolean());
  const field = fc.constantFrom("metadata.path", "metadata.a.b", "lead.email");
  const leaf: fc.Arbitrary<ConditionLeaf> = fc.oneof(
    fc.record({ field, op: fc.constantFrom("contains", "starts_with", "ends_with", "glob"), value: text }),
    fc.record({ field, op: fc.constantFrom("eq", "neq"), value: scalar }),
    fc.record({ field, op: fc.constantFrom("in", "nin"), value: fc.array(scalar, { minLength: 1, maxLength: 4 }) }),
    fc.record({ field, op: fc.constant("exists"), value: fc.boolean() }),
    fc.record({ field, op: fc.constantFrom("gt", "gte", "lt", "lte"), value: number }),
  ) as fc.Arbitrary<ConditionLeaf>;
  const withCase = fc
    .tuple(leaf, fc.boolean())
    .map(
      ([node, insensitive]): ConditionLeaf =>
        insensitive && CASE_OPS.has(node.op) ? { ...node, case: "insensitive" } : node,
    );
  const child = fc.tuple(withCase, fc.boolean()).map(([node, negate]): Condition => (negate ? { not: node } : node));
  const tree = fc.oneof(
    child,
    fc.array(child, { minLength: 2, maxLength: 5 }).map((children): Condition => ({ all: children })),
    fc.array(child, { minLength: 2, maxLength: 5 }).map((children): Condition => ({ any: children })),
  );

  /** The node a path (`where.any[1].not`) names in a rule whose `where` is `root`. */
  function at(root: Condition, path: string): unknown {
    let node: unknown = { where: root };
    for (const [, key, index] of path.matchAll(/\.?([a-z]+)(?:\[(\d+)\])?/g)) {
      node = (node as Record<string, unknown>)[key as string];
      if (index !== undefined) node = (node as unknown[])[Number(index)];
    }
    return node;
  }

  it("turns into rows and back unchanged, each row's path naming its own leaf", () => {
    fc.assert(
      fc.property(tree, (where) => {
        const rows = rowsOf(where);
        expect(rows).not.toBeNull();
        const held = rows as NonNullable<typeof rows>;
        expect(treeOf(held)).toEqual(where);
        held.rows.forEach((row, index) => {
          const node = at(where, rowPath(held, index)) as ConditionLeaf;
          expect(node.field).toBe(row.field);
          expect(node.op).toBe(row.op);
        });
      }),
      { numRuns: 500 },
    );
  });
});
