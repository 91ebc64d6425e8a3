// @vitest-environment node
// Scoring model v2 in a real browser against the whole stack: a rule with a condition, a limit and a group built in
// the rule form, the rule tester, and the lead page saying which rule gave which point.
import type { BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, uniqueName } from "../../test-support/index.ts";
import { ADMIN_TOKEN, type BrowserStack, READ_TOKEN, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

describe("scoring model v2 in a browser", () => {
  let stack: BrowserStack;
  let context: BrowserContext;
  const run = uniqueName("v2").slice(-6).toLowerCase();
  const lead = `v2-${run}-lead`;

  beforeAll(async () => {
    stack = await startBrowserStack("rules-v2");
    context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
  }, 240_000);
  afterAll(async () => {
    await context?.close();
    await stack?.stop();
  }, 60_000);
  afterEach(() => {
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  async function read<T>(path: string): Promise<T> {
    const response = await fetch(`${stack.base}${path}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  // One story, in order (the tests of a file run shuffled): the rule built in the form is the one tested and the one
  // that scores the lead.
  it("builds a rule with a condition, a limit and a group, tests it, and shows which rule gave which point", async () => {
    const rules = await stack.open(context, "/rules", { token: ADMIN_TOKEN });
    await rules.getByRole("button", { name: "Create rule" }).waitFor({ timeout: 15_000 });

    await rules.getByLabel("Group label").fill("Web");
    await rules.getByLabel("Most points").fill("100");
    await rules.getByLabel("Group id (optional)").fill("web");
    await rules.getByRole("button", { name: "Create group" }).click();
    await rules.getByLabel("Max of group web").waitFor({ timeout: 10_000 });

    await rules.getByLabel("Event type").fill("page_view");
    await rules.getByLabel("Label", { exact: true }).fill("Pricing page");
    await rules.getByLabel("Points", { exact: true }).fill("20");
    await rules.getByRole("button", { name: "Add condition" }).click();
    await rules.getByLabel("Field of condition 1").fill("metadata.path");
    await rules.getByLabel("Operator of condition 1").selectOption("starts_with");
    await rules.getByLabel("Value of condition 1").fill("/pricing");
    await rules.getByLabel("Limit how often the rule scores").check();
    await rules.getByLabel("Group", { exact: true }).selectOption("web");
    await rules.getByLabel("Id (optional)", { exact: true }).fill("pricing");
    expect(await rules.getByTestId("condition-preview").textContent()).toBe(
      'When metadata.path starts with "/pricing"',
    );

    // The edge's schema, run in the browser, puts a problem at its field before anything is sent.
    await rules.getByLabel("At most").fill("0");
    await rules.getByRole("button", { name: "Create rule" }).click();
    const max = rules.getByLabel("At most");
    await expect.poll(() => max.getAttribute("aria-invalid"), { timeout: 10_000 }).toBe("true");
    const describedBy = (await max.getAttribute("aria-describedby")) ?? "";
    expect(await rules.locator(`[id="${describedBy}"]`).textContent()).toBe("must be at least 1");

    await max.fill("3");
    await rules.getByRole("button", { name: "Create rule" }).click();
    await rules.getByText(/created; workers apply it/).waitFor({ timeout: 10_000 });
    // Two rules score page_view now: each is named by its type and label.
    await rules.getByLabel("Points for page_view: Pricing page").waitFor({ timeout: 10_000 });
    const row = rules.getByRole("row", { name: /Pricing page/ });
    expect(await row.textContent()).toContain('metadata.path starts with "/pricing"');
    expect(await row.textContent()).toContain("at most 3 a day");
    expect(await row.textContent()).toContain("Web (max 100)");

    const stored = (await read<{ _id: string }[]>("/api/rules")).find((rule) => rule._id === "pricing");
    expect(stored).toMatchObject({
      event_type: "page_view",
      label: "Pricing page",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 3, per: "day" },
      group: "web",
      active: true,
    });

    // The tester: the rules an event matches with their points, and why each other rule does not.
    await rules.getByLabel("Type of the test event").fill("page_view");
    await rules.getByLabel("Metadata (JSON)").fill('{ "path": "/pricing/teams" }');
    await rules.getByRole("button", { name: "Test", exact: true }).click();
    const matched = rules.getByRole("list", { name: "Matching rules" });
    await matched.waitFor({ timeout: 10_000 });
    const matches = await matched.getByRole("listitem").allTextContents();
    expect(matches).toContain("Pricing page +20 · at most 3 a day · group web (max 100)");
    expect(matches.some((text) => text.startsWith("Page View +5"))).toBe(true);
    const missed = await rules.getByRole("list", { name: "Rules that do not match" }).textContent();
    expect(missed).toContain("Purchase: the rule scores purchase, not page_view");

    // A metadata key the edge refuses is shown at the metadata field.
    await rules.getByLabel("Metadata (JSON)").fill('{ "$where": 1 }');
    await rules.getByRole("button", { name: "Test", exact: true }).click();
    const metadata = rules.getByLabel("Metadata (JSON)");
    await expect.poll(() => metadata.getAttribute("aria-invalid"), { timeout: 10_000 }).toBe("true");
    await rules.close();

    // Events of a lead, scored once the rule has reached the worker (within a second; more on a loaded box).
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const day = Date.UTC(2026, 0, 5);
    const view = (n: number, path: string) => ({
      event_id: `${lead}-${n}`,
      lead_id: lead,
      event_type: "page_view",
      timestamp: new Date(day + (9 + n) * 3_600_000).toISOString(),
      metadata: { path },
    });
    // Four pricing views in one day (the fourth over the limit) and a blog view, sent newest first.
    await stack.send([
      view(5, "/blog"),
      view(4, "/pricing"),
      view(3, "/pricing/teams"),
      view(2, "/pricing"),
      view(1, "/pricing"),
    ]);
    await stack.scored({ [lead]: 5 });

    const breakdown = await read<{ score: number; rules: { rule_id: string; points: number; events: number }[] }>(
      `/api/leads/${lead}/breakdown`,
    );
    expect(breakdown.score).toBe(85);
    expect(breakdown.rules).toContainEqual(expect.objectContaining({ rule_id: "pricing", points: 60, events: 4 }));
    expect(breakdown.rules).toContainEqual(expect.objectContaining({ rule_id: "page_view", points: 25, events: 5 }));

    const page = await stack.open(context, `/leads/${lead}`);
    const byRule = page.getByRole("table", { name: "Points by rule" });
    await byRule.waitFor({ timeout: 15_000 });
    expect(await byRule.getByRole("row", { name: /Pricing page|pricing/ }).textContent()).toMatch(/\+604$/);
    expect(await byRule.getByRole("row", { name: /Page View|page_view/ }).textContent()).toMatch(/\+255$/);
    const byGroup = page.getByRole("table", { name: "Points by group" });
    expect(await byGroup.getByRole("row", { name: /Web|web/ }).textContent()).toMatch(/\+601004$/);

    // The fourth pricing view's row: the limit cut its 20 points; the page_view rule still gave 5.
    const fourth = page.locator("li.timeline-entry").nth(1);
    const matchedRules = fourth.getByRole("list", { name: "Matched rules" });
    await eventually(async () => (await matchedRules.count()) === 1, 10_000);
    const lines = await matchedRules.getByRole("listitem").allTextContents();
    expect(lines).toContainEqual(
      expect.stringMatching(/^(Pricing page|pricing) ±0 of \+20 asked \(limit 3 per day reached\)$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^(Page View|page_view) \+5$/));
    await page.close();
  }, 240_000);
});
