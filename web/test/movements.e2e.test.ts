// @vitest-environment node
// "Today" in a real browser against the whole stack: the headline says how many leads became qualified in the last
// 24 hours and links to the Today page, which lists the leads that entered each stage with the event that moved them.
import type { BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../../test-support/index.ts";
import { type BrowserStack, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

describe("the Today page in a browser", () => {
  let stack: BrowserStack;
  const run = uniqueName("today").slice(-6);
  const hot = `today-${run}-hot`;
  const qualified = `today-${run}-qualified`;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    stack = await startBrowserStack("today");
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  it("lists a lead that just became hot with its event, and the headline's link leads there", async () => {
    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    contexts.push(context);
    const dashboard = await stack.open(context, "/");
    const link = dashboard.getByRole("link", { name: /became qualified today/ });
    await link.waitFor({ timeout: 15_000 });
    expect(await link.textContent()).toBe("No lead became qualified today");

    // Three purchases of 100: the third carries the lead over 300 into hot. Six carry the other into qualified.
    const now = Date.now();
    const purchases = (lead: string, count: number) =>
      Array.from({ length: count }, (_, n) => ({
        event_id: `${lead}-${n + 1}`,
        lead_id: lead,
        event_type: "purchase",
        timestamp: now - (count - n) * 60_000,
      }));
    await stack.send([...purchases(hot, 3), ...purchases(qualified, 6)]);
    await stack.scored({ [hot]: 3, [qualified]: 6 });

    // Live: the dashboard stays open and the count comes without a reload.
    await dashboard.getByRole("link", { name: "1 lead became qualified today" }).waitFor({ timeout: 15_000 });
    await dashboard.getByRole("link", { name: "1 lead became qualified today" }).click();
    await dashboard.getByRole("heading", { level: 1, name: "Today" }).waitFor({ timeout: 15_000 });
    expect(new URL(dashboard.url()).pathname).toBe("/today");

    const hotGroup = dashboard.getByRole("region", { name: /Became hot/ });
    const row = hotGroup
      .getByTestId("movement")
      .filter({ has: dashboard.getByRole("link", { name: hot, exact: true }) });
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain(`purchase ${hot}-3`);
    expect(await row.textContent()).toContain("cold");
    const qualifiedGroup = dashboard.getByRole("region", { name: /Became qualified/ });
    expect(await qualifiedGroup.getByRole("link", { name: qualified, exact: true }).count()).toBe(1);
    expect(await qualifiedGroup.getByText(`${qualified}-6`).count()).toBe(1);

    // The 7-day tab lists it too; its lead link opens the lead.
    await dashboard.getByRole("tab", { name: "Last 7 days" }).click();
    expect(await dashboard.getByRole("tab", { name: "Last 7 days" }).getAttribute("aria-selected")).toBe("true");
    await row.getByRole("link", { name: hot, exact: true }).click();
    await dashboard.getByTestId("current-score").waitFor({ timeout: 15_000 });
    expect(new URL(dashboard.url()).pathname).toBe(`/leads/${hot}`);
  });
});
