// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { describe, expect, it } from "vitest";
import { ApiRequestError } from "../src/lib/api.ts";
import { RuleTesterModel, testRequest } from "../src/rule-tester/model.ts";
import { fakeApi } from "./fakes.ts";

const EMPTY = { event_type: "", metadata: "", email: "", company: "", name: "" };

describe("the rule tester's request", () => {
  it("carries the metadata object and only the profile fields given", () => {
    expect(
      testRequest({ ...EMPTY, event_type: " page_view ", metadata: '{ "path": "/pricing" }', email: "a@b.co" }),
    ).toEqual({
      ok: true,
      request: { event: { event_type: "page_view", metadata: { path: "/pricing" } }, lead: { email: "a@b.co" } },
    });
    expect(testRequest({ ...EMPTY, event_type: "purchase" })).toEqual({
      ok: true,
      request: { event: { event_type: "purchase" } },
    });
  });

  it("names what keeps it from being sent by the request's paths", () => {
    const built = testRequest({ ...EMPTY, metadata: "[1]" });
    expect(built.ok).toBe(false);
    expect(built.ok ? [] : built.problems.map((problem) => problem.path)).toEqual([
      "event.event_type",
      "event.metadata",
    ]);
    const broken = testRequest({ ...EMPTY, event_type: "x", metadata: "{ path: 1 }" });
    expect(broken.ok ? "" : broken.problems[0]?.message).toMatch(/^is not valid JSON/);
  });
});

describe("the rule tester", () => {
  it("shows which rules match and why the others do not", async () => {
    const api = fakeApi();
    const answer = {
      rules_version: 4,
      points: 25,
      matched: [
        { rule_id: "pricing", label: "Pricing", points: 20, limit: { max: 3, per: "day" as const } },
        { rule_id: "page_view", label: "Page view", points: 5 },
      ],
      missed: [{ rule_id: "blog", label: "Blog", reason: 'metadata.path must start with "/blog"; it is "/pricing"' }],
    };
    api.testRules.mockResolvedValueOnce(answer);
    const model = new RuleTesterModel({ api, token: signal("admin-1") });
    model.set("event_type", "page_view");
    model.set("metadata", '{"path":"/pricing"}');
    await model.run();
    expect(api.testRules).toHaveBeenCalledWith(
      { event: { event_type: "page_view", metadata: { path: "/pricing" } } },
      "admin-1",
    );
    expect(model.result.value).toEqual(answer);
  });

  it("puts the edge's problems at the field their path names", async () => {
    const api = fakeApi();
    api.testRules.mockRejectedValueOnce(
      new ApiRequestError(400, "VALIDATION_FAILED", "invalid", [
        { path: "event.metadata.$where", message: "key may not start with $" },
      ]),
    );
    const model = new RuleTesterModel({ api, token: signal("admin-1") });
    model.set("event_type", "page_view");
    model.set("metadata", '{"$where":1}');
    await model.run();
    expect(model.errors.value.at["event.metadata"]).toBe("$where: key may not start with $");
    model.set("metadata", "{}");
    expect(model.errors.value.at["event.metadata"]).toBeUndefined();
  });
});
