// GET /api/leads/:id/breakdown: the score by group and by rule, from the live state the worker keeps (seeded here as
// the worker commits it), and the history entries that say which rule gave which point.
import {
  breakdownOf,
  type Candidate,
  compileRuleSet,
  foldScoresV2,
  type RuleSet,
  type ScorableEvent,
} from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { type Breakdown, BreakdownSchema } from "../src/routes/leads/breakdown.ts";
import { BASE, profileOnlyLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

/** The example: pricing views 20 at most 3 a day; email opens 5, once per email, group email max 60. */
const RULES: RuleSet = {
  version: 4,
  groups: [{ _id: "email", label: "Email", max: 60 }],
  rules: [
    {
      _id: "pricing",
      label: "Pricing page",
      event_type: "page_view",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 3, per: "day" },
      active: true,
    },
    {
      _id: "open",
      label: "Email open",
      event_type: "email_open",
      points: 5,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
      active: true,
    },
  ],
};
const matcher = compileRuleSet(RULES);
const DAY = 86_400_000;

function scored(leadId: string, n: number, type: string, at: number, metadata: Record<string, unknown>): ScorableEvent {
  const candidates: Candidate[] = matcher.match({ event_type: type, metadata });
  return {
    event_id: `${leadId}-${String(n).padStart(3, "0")}`,
    lead_id: leadId,
    event_type: type,
    timestamp: at,
    received_at: at,
    points: candidates.reduce((sum, c) => sum + c.points, 0),
    rule_id: candidates[0]?.rule_id ?? null,
    candidates,
    rules_version: RULES.version,
  };
}

/** 4 pricing views on day 1 and 1 on day 2, a blog view, 2 opens of one email, then 14 different emails. */
function exampleEvents(leadId: string): ScorableEvent[] {
  const events: ScorableEvent[] = [];
  let n = 0;
  for (let i = 0; i < 4; i += 1) events.push(scored(leadId, n++, "page_view", BASE + i * 60_000, { path: "/pricing" }));
  events.push(scored(leadId, n++, "page_view", BASE + DAY, { path: "/pricing/plans" }));
  events.push(scored(leadId, n++, "page_view", BASE + DAY + 1, { path: "/blog" }));
  events.push(scored(leadId, n++, "email_open", BASE + 2 * DAY, { email_id: "n1" }));
  events.push(scored(leadId, n++, "email_open", BASE + 2 * DAY + 1, { email_id: "n1" }));
  for (let i = 0; i < 14; i += 1) {
    events.push(scored(leadId, n++, "email_open", BASE + 3 * DAY + i, { email_id: `m${i}` }));
  }
  return events;
}

describe("GET /api/leads/:id/breakdown", () => {
  let edge: Edge;
  const example = exampleEvents("example");
  // Long enough for pages in MongoDB: the breakdown still reads the live hash only.
  const long = Array.from({ length: 160 }, (_, i) =>
    scored("long", i, i % 3 === 0 ? "email_open" : "page_view", BASE + i * 3_600_000, {
      email_id: `e${i % 20}`,
      path: i % 2 === 0 ? "/pricing" : "/blog",
    }),
  );

  async function breakdown(id: string): Promise<Breakdown> {
    const response = await edge.read(`/api/leads/${id}/breakdown`);
    expect(response.status, id).toBe(200);
    const body = (await response.json()) as Breakdown;
    expect(() => BreakdownSchema.parse(body)).not.toThrow();
    return body;
  }

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      { id: "example", events: example },
      { id: "long", events: long },
      profileOnlyLead("fresh"),
    ]);
  });
  afterAll(() => edge.close());

  it("says which rule gave which point in the issue's example, the rules adding up to the score", async () => {
    const body = await breakdown("example");
    // Pricing: 3 on day 1, 1 on day 2; opens: n1 once, then 11 of the 14 others until the group's max of 60.
    expect(body).toEqual({
      lead_id: "example",
      score: 140,
      rules_version: 4,
      groups: [{ group: "email", max: 60, points: 60, events: 16 }],
      rules: [
        { rule_id: "pricing", group: null, points: 80, events: 5 },
        { rule_id: "open", group: "email", points: 60, events: 16 },
      ],
      unmatched: 1,
    });
    expect(body.rules.reduce((sum, rule) => sum + rule.points, 0)).toBe(body.score);
  });

  it("is breakdownOf the lead's whole history, however long", async () => {
    for (const [id, events] of [
      ["example", example],
      ["long", long],
    ] as const) {
      const fold = foldScoresV2(
        events.map((event) => ({ ...event, candidates: event.candidates ?? [], rules_version: 4 })),
        1000,
      );
      const want = breakdownOf(fold.history);
      const body = await breakdown(id);
      expect({ score: body.score, rules: body.rules, unmatched: body.unmatched }, id).toEqual({
        score: want.score,
        rules: want.rules,
        unmatched: want.unmatched,
      });
      expect(
        body.groups.map(({ group, points, events }) => ({ group, points, events })),
        id,
      ).toEqual(want.groups);
    }
  });

  it("lists each history entry's rules with what they asked, gave and why any were cut", async () => {
    const response = await edge.read("/api/leads/example/history?order=asc&limit=200");
    const entries = (await response.json()) as { rules: unknown[]; rules_version: number | null; reason: string }[];
    expect(entries[3]).toMatchObject({
      rules_version: 4,
      rules: [{ rule_id: "pricing", group: null, asked: 20, given: 0, cuts: ["limit 3 per day reached"] }],
      reason: "page_view +20 (limit 3 per day reached)",
    });
    expect(entries[5]).toMatchObject({ rules: [], reason: "no active rule for page_view" });
    expect(entries.at(-1)).toMatchObject({
      rules: [{ rule_id: "open", group: "email", asked: 5, given: 0, cuts: ['group "email" at its max 60'] }],
    });
  });

  it("is an empty breakdown for a lead with no event, and 404 in the error shape for no lead", async () => {
    expect(await breakdown("fresh")).toEqual({
      lead_id: "fresh",
      score: 0,
      rules_version: null,
      groups: [],
      rules: [],
      unmatched: 0,
    });
    const response = await edge.read("/api/leads/nobody/breakdown");
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });
});
