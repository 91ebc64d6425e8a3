// @vitest-environment node
// Score decay in a real browser against the whole stack: the Settings page sets the half-life (and the header says
// so), and with a half-life of seconds a hot lead's score falls in the table, the Top 5 and its page, and its stage
// turns warm, with no event sent.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, uniqueName } from "../../test-support/index.ts";
import { ROOT } from "../../test-support/processes.ts";
import { ADMIN_TOKEN, type BrowserStack, READ_TOKEN, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");
const shoot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The whole number a cell shows (its last run of digits and commas). */
async function shownNumber(cell: Locator): Promise<number> {
  const text = (await cell.textContent()) ?? "";
  return Number(text.match(/[\d,]+\s*$/)?.[0]?.replace(/[,\s]/g, "") ?? Number.NaN);
}

describe("score decay in a browser", () => {
  let stack: BrowserStack;
  const run = uniqueName("decay").slice(-6);
  const contexts: BrowserContext[] = [];

  async function scoring(): Promise<{ half_life_seconds: number | null }> {
    const response = await fetch(`${stack.base}/api/scoring`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    return (await response.json()) as { half_life_seconds: number | null };
  }

  /** Sets the half-life through the API, as another admin would. */
  async function setHalfLife(halfLifeSeconds: number | null) {
    const response = await fetch(`${stack.base}/api/scoring`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ half_life_seconds: halfLifeSeconds }),
    });
    expect(response.status).toBe(200);
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startBrowserStack("decay");
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
  }, 60_000);
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  it("sets the half-life on the Settings page in days or hours, or off, and the header says when decay is on", async () => {
    await setHalfLife(null);
    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    contexts.push(context);
    const page = await stack.open(context, "/settings", { token: ADMIN_TOKEN });
    await page.getByRole("heading", { level: 1, name: "Settings" }).waitFor({ timeout: 15_000 });
    const header = page.getByRole("banner");
    await page.getByRole("radio", { name: /Off/ }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole("radio", { name: /Off/ }).isChecked()).toBe(true);
    expect(await header.getByText(/Scores halve/).count()).toBe(0);

    await page.getByRole("radio", { name: /Scores halve every/ }).check();
    await page.getByLabel("Half-life").fill("30");
    await page.getByLabel("Unit").selectOption("days");
    await page.getByRole("button", { name: "Save" }).click();
    const saved = page.getByRole("status").filter({ hasText: /^Saved/ });
    await saved.waitFor({ timeout: 30_000 });
    expect(await saved.textContent()).toMatch(
      /^Saved: Scores halve every 30 days\. Re-keyed \d+ leads? in [\d.,]+ m?s\.$/,
    );
    await header.getByText("Scores halve every 30 days").waitFor({ timeout: 5000 });
    expect((await scoring()).half_life_seconds).toBe(30 * 86_400);
    await shoot(page, "settings-decay-desktop");

    await page.getByLabel("Half-life").fill("36");
    await page.getByLabel("Unit").selectOption("hours");
    await page.getByRole("button", { name: "Save" }).click();
    await header.getByText("Scores halve every 36 hours").waitFor({ timeout: 30_000 });
    expect((await scoring()).half_life_seconds).toBe(36 * 3600);

    // A new tab reads the setting: the form shows it in hours.
    const again = await stack.open(context, "/settings");
    await again.getByRole("banner").getByText("Scores halve every 36 hours").waitFor({ timeout: 15_000 });
    expect(await again.getByLabel("Half-life").inputValue()).toBe("36");
    expect(await again.getByLabel("Unit").inputValue()).toBe("hours");

    await page.getByRole("radio", { name: /Off/ }).check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved: scores no longer decay." }).waitFor({ timeout: 30_000 });
    expect(await header.getByText(/Scores halve/).count()).toBe(0);
    expect((await scoring()).half_life_seconds).toBeNull();
  }, 120_000);

  it("shows a hot lead's score falling and its stage turning warm in the table, the Top 5 and its page, with no event", async () => {
    await setHalfLife(30);
    // Every worker reloads the setting within a second of the change.
    await sleep(1500);

    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    contexts.push(context);
    const dashboard = await stack.open(context, "/");
    await dashboard.getByRole("banner").getByText("Scores halve every 30 seconds").waitFor({ timeout: 15_000 });

    // Five purchases of 100 just now: about 500, hot for 30 · log2(500/300) ≈ 22 s (room for a loaded machine).
    const lead = `decay-${run}`;
    const now = Date.now();
    await stack.send(
      Array.from({ length: 5 }, (_, n) => ({
        event_id: `${lead}-${n + 1}`,
        lead_id: lead,
        event_type: "purchase",
        timestamp: now - (5 - n) * 10,
      })),
    );
    await stack.scored({ [lead]: 5 });

    const row = dashboard.getByRole("row").filter({ has: dashboard.getByRole("link", { name: lead, exact: true }) });
    await row.waitFor({ timeout: 15_000 });
    const score = row.getByTestId("lead-score");
    const stage = row.locator(".stage");
    const top = dashboard
      .locator(".board-row")
      .filter({ has: dashboard.getByRole("link", { name: lead, exact: true }) });
    await top.waitFor({ timeout: 15_000 });

    const first = await shownNumber(score);
    expect(await stage.textContent()).toBe("hot");
    expect(first).toBeGreaterThanOrEqual(300);
    expect(first).toBeLessThanOrEqual(500);
    // Before any crossing nothing is sent by the server: the fall is the page's own.
    await sleep(1500);
    const second = await shownNumber(score);
    expect(second).toBeLessThan(first);
    expect(await shownNumber(top.locator(".board-score"))).toBeLessThan(first);

    // The stage turns warm as the score passes 300, with no event sent; the number shown agrees with it.
    await eventually(async () => (await stage.textContent()) === "warm", 40_000);
    const warm = await shownNumber(score);
    expect(warm).toBeLessThan(300);
    expect(warm).toBeGreaterThanOrEqual(100);
    expect(await row.locator("td").nth(4).textContent()).toBe("5");
    await shoot(dashboard, "decay-dashboard-desktop");
    const phone = await stack.browser.newContext({ viewport: VIEWPORTS.mobile, reducedMotion: "reduce" });
    contexts.push(phone);
    const small = await stack.open(phone, "/");
    await small.getByRole("banner").getByText("Scores halve every 30 seconds").waitFor({ timeout: 15_000 });
    await small.getByRole("link", { name: lead, exact: true }).first().waitFor({ timeout: 15_000 });
    // A page opened now shows the same decayed score in the table and the Top 5 (the socket's first top is not
    // decayed: the board reads its numbers from the API instead).
    const smallRow = small.getByRole("row").filter({ has: small.getByRole("link", { name: lead, exact: true }) });
    const smallTop = small.locator(".board-row").filter({ has: small.getByRole("link", { name: lead, exact: true }) });
    await eventually(async () => {
      const [inTable, inTop] = [await shownNumber(smallRow.getByTestId("lead-score")), await shownNumber(smallTop)];
      return inTable < 300 && Math.abs(inTable - inTop) <= 3;
    }, 10_000);
    await shoot(small, "decay-dashboard-mobile");

    // The API agrees to within the time between the two reads (rounded down both).
    const api = await fetch(`${stack.base}/api/leads/${lead}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    const read = (await api.json()) as { current_score: number; stage: string; event_count: number };
    expect(read.stage).toBe("warm");
    expect(read.event_count).toBe(5);
    expect(Math.abs(Math.floor(read.current_score) - (await shownNumber(score)))).toBeLessThanOrEqual(5);

    // The lead's page: its score keeps falling, and the chart draws the curve on to now.
    await row.getByRole("link", { name: lead, exact: true }).click();
    const current = dashboard.getByTestId("current-score");
    await current.waitFor({ timeout: 15_000 });
    const before = await shownNumber(current);
    await dashboard.getByText(/falling between events as it decays, up to now/).waitFor({ timeout: 15_000 });
    await sleep(1500);
    expect(await shownNumber(current)).toBeLessThan(before);
    const segments = (await dashboard.locator(".chart-line").getAttribute("d"))?.match(/ L /g)?.length ?? 0;
    expect(segments).toBeGreaterThan(50);
    // "Why this score?" gives the points the rules gave, and says the score has decayed from them since.
    const total = dashboard.getByTestId("breakdown-total");
    await total.getByText(/Decayed since the last event to \d+ now\./).waitFor({ timeout: 15_000 });
    expect(await total.textContent()).toMatch(/^499 points/);
    // The history's decay entry says which threshold the score fell below.
    await dashboard.getByText("decayed below hot (300)").waitFor({ timeout: 15_000 });
    await shoot(dashboard, "decay-lead-desktop");
  }, 120_000);
});
