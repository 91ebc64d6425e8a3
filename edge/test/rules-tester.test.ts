import { COLLECTIONS } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRulesEdge } from "./rules-fixtures.ts";

type RulesEdge = Awaited<ReturnType<typeof createRulesEdge>>;
type ErrorBody = { error: { code: string; details: { path: string; message: string }[] } };

describe("when testing an event against the rules", () => {
  let rules: RulesEdge;
  beforeAll(async () => {
    rules = await createRulesEdge();
    const send = rules.send;
    await send("POST", "/api/rule-groups", { _id: "email", label: "Email", max: 60 });
    await send("POST", "/api/rules", { _id: "view", label: "Any page", event_type: "page_view", points: 1 });
    await send("POST", "/api/rules", {
      _id: "pricing",
      label: "Pricing page",
      event_type: "page_view",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 3, per: "day" },
    });
    await send("POST", "/api/rules", {
      _id: "open",
      label: "Email open",
      event_type: "email_open",
      points: 5,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
    });
    await send("POST", "/api/rules", {
      _id: "company",
      label: "Company demo",
      event_type: "demo_request",
      where: { not: { field: "lead.email", op: "ends_with", value: "@gmail.com", case: "insensitive" } },
      points: 50,
    });
  });
  afterAll(() => rules.close());
  const test = (body: unknown) => rules.send("POST", "/api/rules/test", body);
  const versionInForce = async () => Number((await rules.edge.read("/api/rules")).headers.get("x-rules-version"));

  it("lists the rules an event matches with their points and limit, and why the others miss", async () => {
    const response = await test({ event: { event_type: "page_view", metadata: { path: "/pricing/teams" } } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      rules_version: await versionInForce(),
      points: 21,
      matched: [
        { rule_id: "view", label: "Any page", points: 1 },
        { rule_id: "pricing", label: "Pricing page", points: 20, limit: { max: 3, per: "day" } },
      ],
      missed: [
        { rule_id: "open", label: "Email open", reason: "the rule scores email_open, not page_view" },
        { rule_id: "company", label: "Company demo", reason: "the rule scores demo_request, not page_view" },
      ],
    });
  });

  it("says why a condition does not hold", async () => {
    const body = await (await test({ event: { event_type: "page_view", metadata: { path: "/blog" } } })).json();
    expect(body.matched.map((m: { rule_id: string }) => m.rule_id)).toEqual(["view"]);
    expect(body.missed).toContainEqual({
      rule_id: "pricing",
      label: "Pricing page",
      reason: 'metadata.path must start with "/pricing"; it is "/blog"',
    });
  });

  it("gives the limit's key and the group of a matched rule", async () => {
    const body = await (await test({ event: { event_type: "email_open", metadata: { email_id: "n-42" } } })).json();
    expect(body.matched).toEqual([
      {
        rule_id: "open",
        label: "Email open",
        points: 5,
        limit: { max: 1, per: "lifetime", field: "metadata.email_id", key: "n-42" },
        group: { id: "email", max: 60 },
      },
    ]);
  });

  it("reads the lead's profile when given", async () => {
    const gmail = await (
      await test({ event: { event_type: "demo_request" }, lead: { email: "Ann@GMAIL.com" } })
    ).json();
    expect(gmail.matched).toEqual([]);
    const company = await (
      await test({ event: { event_type: "demo_request" }, lead: { email: "ann@acme.com", name: null } })
    ).json();
    expect(company.matched.map((m: { rule_id: string }) => m.rule_id)).toEqual(["company"]);
  });

  it("says so when no rule matches: the event scores 0", async () => {
    const body = await (await test({ event: { event_type: "webinar_signup" } })).json();
    expect(body).toMatchObject({
      points: 0,
      matched: [],
      reason: "no active rule for webinar_signup matches: it scores 0",
    });
    expect(body.missed).toHaveLength(4);
  });

  it("answers from the version in force after a write", async () => {
    const before = await versionInForce();
    await rules.send("PUT", "/api/rules/view", { points: 2 });
    const body = await (await test({ event: { event_type: "page_view" } })).json();
    expect(body).toMatchObject({ rules_version: before + 1, points: 2 });
    expect(await rules.edge.deps.db.collection(COLLECTIONS.ruleSets).countDocuments()).toBe(before + 1);
    // As it was, for the other tests.
    await rules.send("PUT", "/api/rules/view", { points: 1 });
  });

  it("checks the event as ingestion does, naming each bad field", async () => {
    const cases: [unknown, string[]][] = [
      [{}, ["event"]],
      [{ event: { event_type: "Page View" } }, ["event.event_type"]],
      [{ event: { event_type: "x", metadata: { $where: 1 } } }, ["event.metadata.$where"]],
      [{ event: { event_type: "x", metadata: { "a.b": 1 } } }, ["event.metadata.a.b"]],
      [{ event: { event_type: "x", metadata: { big: "x".repeat(5000) } } }, ["event.metadata"]],
      [{ event: { event_type: "x", lead_id: "l" } }, ["event.lead_id"]],
      [{ event: { event_type: "x" }, lead: { phone: "1" } }, ["lead.phone"]],
    ];
    for (const [body, paths] of cases) {
      const response = await test(body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const { error } = (await response.json()) as ErrorBody;
      expect(error.code).toBe("VALIDATION_FAILED");
      expect(error.details.map((detail) => detail.path)).toEqual(paths);
    }
  });
});
