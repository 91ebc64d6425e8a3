// @vitest-environment node
// The dashboard in a real browser against the whole stack: edge (Deno), worker and realtime as child processes on
// free ports, with a Redis prefix and a database of their own. Screenshots of every page, at desktop and phone
// widths, land in artifacts/screenshots/.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, uniqueName } from "../../test-support/index.ts";
import { ROOT } from "../../test-support/processes.ts";
import {
  ADMIN_TOKEN,
  type BrowserStack,
  READ_TOKEN,
  startBrowserStack,
  VIEWPORTS,
  WRITE_KEY,
} from "./browser-stack.ts";

const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");

describe("the dashboard in a browser, against the running stack", () => {
  let stack: BrowserStack;
  let base = "";
  let problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startBrowserStack("e2e");
    base = stack.base;
    problems = stack.problems;
  }, 180_000);

  afterAll(() => stack?.stop(), 60_000);

  const open = (context: BrowserContext, path: string, signIn = true) => stack.open(context, path, { signIn });
  const signInWith = (page: Page, token: string) => stack.signInWith(page, token);
  const browser = {
    newContext: (...args: Parameters<BrowserStack["browser"]["newContext"]>) => stack.browser.newContext(...args),
  };

  async function shoot(page: Page, name: string, viewport: keyof typeof VIEWPORTS) {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${viewport}.png`), fullPage: true });
  }

  async function postEvent(event: Record<string, unknown>) {
    const response = await fetch(`${base}/api/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` },
      body: JSON.stringify(event),
    });
    expect(response.status, await response.clone().text()).toBe(202);
  }

  async function scoreShown(page: Page, leadId: string): Promise<string | null> {
    const row = page.locator("tr", { has: page.getByRole("link", { name: leadId, exact: true }) });
    if ((await row.count()) === 0) return null;
    return (await row.getByTestId("lead-score").textContent())?.trim() ?? null;
  }

  it("shows a new lead live, its timeline, and the API's field errors", async () => {
    const types = (await (
      await fetch(`${base}/api/events/event-types`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })
    ).json()) as { value: string; points: number }[];
    const points = (type: string) => types.find((item) => item.value === type)?.points ?? 0;
    const leadId = uniqueName("lead");
    const t0 = Date.now() - 60 * 60 * 1000;

    const desktop = await browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    const mobile = await browser.newContext({ viewport: VIEWPORTS.mobile, isMobile: true, hasTouch: true });
    try {
      // The dashboard is open before the lead exists; it must appear without a reload. Signed in as admin, so the
      // Rules page below shows its editable form.
      const dashboard = await stack.open(desktop, "/", { token: ADMIN_TOKEN });
      await dashboard.getByText("Live", { exact: true }).waitFor({ timeout: 15_000 });
      await postEvent({ event_id: `${leadId}-1`, lead_id: leadId, event_type: "purchase", timestamp: t0 });
      await postEvent({ event_id: `${leadId}-2`, lead_id: leadId, event_type: "email_open", timestamp: t0 + 60_000 });
      const expected = points("purchase") + points("email_open");
      await eventually(async () => (await scoreShown(dashboard, leadId)) === String(expected), 15_000);
      await shoot(dashboard, "dashboard", "desktop");

      // The lead page: profile, chart and timeline; a late event arrives live and is marked.
      await dashboard.getByRole("table").getByRole("link", { name: leadId, exact: true }).click();
      await dashboard.waitForURL(`**/leads/${leadId}`);
      const timeline = dashboard.getByRole("list", { name: "Score history" });
      // The timeline's own entries: each holds a list of its matched rules too.
      const entries = timeline.locator(":scope > li");
      await eventually(async () => (await entries.count()) === 2, 10_000);
      await postEvent({ event_id: `${leadId}-0`, lead_id: leadId, event_type: "page_view", timestamp: t0 + 30_000 });
      const withLate = String(expected + points("page_view"));
      await eventually(async () => (await dashboard.getByTestId("current-score").textContent()) === withLate, 15_000);
      await eventually(async () => (await entries.count()) === 3, 10_000);
      expect(await entries.nth(1).textContent()).toContain("late");
      // The chart's series is re-read beside the timeline, so it may land a moment later.
      const chart = dashboard.locator("svg[role=img]");
      await eventually(async () => (await chart.getAttribute("aria-label"))?.includes(`score now ${withLate}`), 10_000);
      expect(await chart.getAttribute("aria-label")).toMatch(/^Score over time: 3 events/);
      await shoot(dashboard, "lead", "desktop");

      await dashboard.getByRole("link", { name: "Leaderboard" }).click();
      await dashboard.getByRole("link", { name: leadId, exact: true }).waitFor();
      await shoot(dashboard, "leaderboard", "desktop");

      // An invalid event: the edge's message (its schema runs in the browser) appears on the field it names.
      await dashboard.getByRole("link", { name: "Submit event" }).click();
      await dashboard.getByRole("option", { name: /Purchase/ }).waitFor({ state: "attached" });
      await dashboard.getByLabel("Lead id").fill("not a valid id!");
      await dashboard.getByLabel("Write key").fill(WRITE_KEY);
      await dashboard.getByRole("button", { name: "Send event" }).click();
      const fieldError = dashboard.locator("#lead_id-error");
      await fieldError.waitFor({ timeout: 10_000 });
      expect(await fieldError.textContent()).toMatch(/must be/);
      expect(await dashboard.getByLabel("Lead id").getAttribute("aria-invalid")).toBe("true");
      await shoot(dashboard, "submit-event", "desktop");

      await dashboard.getByRole("link", { name: "Rules" }).click();
      await dashboard.getByLabel("Points for purchase").waitFor();
      await shoot(dashboard, "rules", "desktop");

      const missing = await open(desktop, "/no/such/page");
      await missing.getByRole("heading", { name: "Page not found" }).waitFor();
      await shoot(missing, "not-found", "desktop");

      // The same pages at 375 px: nothing may be wider than the screen.
      for (const [name, path] of [
        ["dashboard", "/"],
        ["lead", `/leads/${leadId}`],
        ["leaderboard", "/leaderboard"],
        ["submit-event", "/events/new"],
        ["rules", "/rules"],
        ["not-found", "/nowhere"],
        ["sign-in", "/?signed-out"],
      ] as const) {
        // A browser that signed in stays signed in: the sign-in page is shot in a browser of its own.
        const context = name === "sign-in" ? await browser.newContext({ viewport: VIEWPORTS.mobile }) : mobile;
        const page = await open(context, path, name !== "sign-in");
        await page.getByRole("heading", { level: 1 }).waitFor();
        await page.waitForLoadState("networkidle");
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} is wider than 375 px`).toBeLessThanOrEqual(0);
        await shoot(page, name, "mobile");
        await page.close();
        if (context !== mobile) await context.close();
      }
      expect(problems).toEqual([]);
    } finally {
      await desktop.close();
      await mobile.close();
    }
  }, 180_000);

  it("asks for the access token, refuses a wrong one, signs out, and returns to sign-in when the token stops reading", async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    try {
      const page = await open(context, "/leaderboard", false);
      await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
      expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(0);
      await shoot(page, "sign-in", "desktop");

      // A write key is public and never reads.
      await signInWith(page, WRITE_KEY);
      const alert = page.getByRole("alert");
      await alert.waitFor();
      expect(await alert.textContent()).toContain("refused");
      expect(await page.evaluate(() => localStorage.getItem("leadscore.session"))).toBeNull();

      // The right token: the page the user asked for, live.
      await signInWith(page, READ_TOKEN);
      await page.getByRole("heading", { level: 1, name: "Leaderboard" }).waitFor();
      await page.getByText("Live", { exact: true }).waitFor({ timeout: 15_000 });
      expect(JSON.parse((await page.evaluate(() => localStorage.getItem("leadscore.session"))) ?? "null")).toEqual({
        token: READ_TOKEN,
        role: "read",
      });

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
      expect(await page.evaluate(() => localStorage.getItem("leadscore.session"))).toBeNull();

      // A token that no longer reads (rotated away): the first refused read brings back the sign-in page, saying why.
      await page.evaluate(() =>
        localStorage.setItem("leadscore.session", JSON.stringify({ token: "rotated-away-token", role: "read" })),
      );
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor({ timeout: 15_000 });
      await page.getByRole("alert").waitFor();
      expect(await page.getByRole("alert").textContent()).toContain("no longer accepted");
      expect(await page.evaluate(() => localStorage.getItem("leadscore.session"))).toBeNull();
      await shoot(page, "sign-in-expired", "desktop");
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
});
