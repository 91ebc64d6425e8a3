// @vitest-environment node
// The dashboard in a real browser against the whole stack: edge (Deno), worker and realtime as child processes on
// free ports, with a Redis prefix and a database of their own. Screenshots of every page, at desktop and phone
// widths, land in artifacts/screenshots/.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  freePort,
  REDIS_URL,
  uniqueName,
} from "../../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, ROOT, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { createReceiver } from "../../webhooks/test/receiver.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const WEB = join(ROOT, "web");
const DIST = join(WEB, "dist");
const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");
const WRITE_KEY = "e2e-write-key";
const ADMIN_TOKEN = "e2e-admin-token";
const READ_TOKEN = "e2e-read-token";
const VIEWPORTS = { desktop: { width: 1280, height: 900 }, mobile: { width: 375, height: 812 } } as const;

/** Newest modification time under a folder (or of a file). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/** Builds the dashboard unless web/dist is newer than every source file. */
async function buildIfNeeded() {
  const built = join(DIST, "index.html");
  const sources = Math.max(
    newest(join(WEB, "src")),
    newest(join(WEB, "index.html")),
    newest(join(WEB, "vite.config.ts")),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  await promisify(execFile)(join(BIN, "vite"), ["build", "--logLevel", "warn"], { cwd: WEB });
}

describe("the dashboard in a browser, against the running stack", () => {
  const processes: RunningProcess[] = [];
  let cleanups: (() => Promise<void>)[] = [];
  let browser: Browser;
  let base = "";
  let realtimeUrl = "";
  const problems: string[] = [];

  beforeAll(async () => {
    await buildIfNeeded();
    mkdirSync(SCREENSHOTS, { recursive: true });

    const prefix = uniqueName("e2e");
    const db = await createTestDb(uniqueName("e2e"));
    const redis = await createTestRedis(prefix);
    cleanups = [() => db.drop(), () => redis.cleanup()];
    const edgePort = await freePort();
    const env = {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      REDIS_URL,
      MONGO_URL: db.url,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: WRITE_KEY,
      ADMIN_TOKEN,
      READ_TOKENS: READ_TOKEN,
      WEB_DIST: DIST,
      // The edge listens here; realtime allows sockets from pages served on this port.
      PORT: String(edgePort),
      REALTIME_PORT: "0",
    };
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, env);
    const worker = startProcess(join(BIN, "tsx"), ["worker/src/main.ts"], env);
    const realtime = startProcess(join(BIN, "tsx"), ["realtime/src/main.ts"], env);
    const dispatcher = startProcess(join(BIN, "tsx"), ["webhooks/src/main.ts"], {
      ...env,
      WEBHOOK_RETRY_DELAYS_MS: "60000",
    });
    processes.push(edge, worker, realtime, dispatcher);
    const [, realtimePort] = await realtime.waitFor(/"msg":"realtime listening","port":(\d+)/, 60_000);
    await edge.waitFor(/"msg":"edge listening"/, 60_000);
    await worker.waitFor(/worker ready/, 60_000);
    await dispatcher.waitFor(/dispatcher ready/, 60_000);
    base = `http://127.0.0.1:${edgePort}`;
    realtimeUrl = `http://127.0.0.1:${realtimePort}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(processes.map((child) => child.stop("SIGTERM")));
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }, 60_000);

  /** Opens a page of the dashboard and, unless told not to, signs in with the read token. */
  async function open(context: BrowserContext, path: string, signIn = true): Promise<Page> {
    const page = await context.newPage();
    page.on("console", (message) => {
      // Refused requests (the invalid event's 400) are the page's to show, and it does; anything else logged as an
      // error (script errors, Content-Security-Policy violations) is a fault.
      if (message.type() !== "error" || message.text().startsWith("Failed to load resource")) return;
      problems.push(`${path}: ${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (error) => problems.push(`${path}: ${error.message}`));
    const separator = path.includes("?") ? "&" : "?";
    await page.goto(`${base}${path}${separator}realtime=${encodeURIComponent(realtimeUrl)}`);
    if (signIn) await signInWith(page, READ_TOKEN);
    return page;
  }

  async function signInWith(page: Page, token: string) {
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

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
      // The dashboard is open before the lead exists; it must appear without a reload.
      const dashboard = await open(desktop, "/");
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
      await eventually(async () => (await timeline.getByRole("listitem").count()) === 2, 10_000);
      await postEvent({ event_id: `${leadId}-0`, lead_id: leadId, event_type: "page_view", timestamp: t0 + 30_000 });
      const withLate = String(expected + points("page_view"));
      await eventually(async () => (await dashboard.getByTestId("current-score").textContent()) === withLate, 15_000);
      await eventually(async () => (await timeline.getByRole("listitem").count()) === 3, 10_000);
      expect(await timeline.getByRole("listitem").nth(1).textContent()).toContain("late");
      // The chart's series is re-read beside the timeline, so it may land a moment later.
      const chart = dashboard.locator("svg[role=img]");
      await eventually(async () => (await chart.getAttribute("aria-label"))?.includes(`score now ${withLate}`), 10_000);
      expect(await chart.getAttribute("aria-label")).toMatch(/^Score over time: 3 events/);
      await shoot(dashboard, "lead", "desktop");

      await dashboard.getByRole("link", { name: "Leaderboard" }).click();
      await dashboard.getByRole("link", { name: leadId, exact: true }).waitFor();
      await shoot(dashboard, "leaderboard", "desktop");

      // An invalid event: the API's message appears on the field it names.
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
        const page = await open(mobile, path, name !== "sign-in");
        await page.getByRole("heading", { level: 1 }).waitFor();
        await page.waitForLoadState("networkidle");
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${name} is wider than 375 px`).toBeLessThanOrEqual(0);
        await shoot(page, name, "mobile");
        await page.close();
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
      expect(await page.evaluate(() => sessionStorage.getItem("leadscore.read-token"))).toBeNull();

      // The right token: the page the user asked for, live.
      await signInWith(page, READ_TOKEN);
      await page.getByRole("heading", { level: 1, name: "Leaderboard" }).waitFor();
      await page.getByText("Live", { exact: true }).waitFor({ timeout: 15_000 });
      expect(await page.evaluate(() => sessionStorage.getItem("leadscore.read-token"))).toBe(READ_TOKEN);

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("leadscore.read-token"))).toBeNull();

      // A token that no longer reads (rotated away): the first refused read brings back the sign-in page, saying why.
      await page.evaluate(() => sessionStorage.setItem("leadscore.read-token", "rotated-away-token"));
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor({ timeout: 15_000 });
      await page.getByRole("alert").waitFor();
      expect(await page.getByRole("alert").textContent()).toContain("no longer accepted");
      expect(await page.evaluate(() => sessionStorage.getItem("leadscore.read-token"))).toBeNull();
      await shoot(page, "sign-in-expired", "desktop");
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 120_000);
  it("creates a webhook showing its secret once, sends a test event, highlights a failed delivery and retries it", async () => {
    let healthy = false;
    const receiver = await createReceiver(() => (healthy ? 200 : 500));
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    try {
      const page = await open(context, "/");
      await page.getByRole("link", { name: "Webhooks" }).click();
      await page.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
      await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
      await page.getByLabel("URL").fill(receiver.url);
      await page.getByRole("button", { name: "Create webhook" }).click();

      const secret = (await page.locator("#webhook-secret").textContent()) ?? "";
      expect(secret).toMatch(/^whsec_/);
      await page.getByRole("button", { name: "Copy secret" }).click();
      await page.getByRole("button", { name: "Copied" }).waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
      await shoot(page, "webhooks", "desktop");
      await page.getByRole("button", { name: "Done" }).click();
      expect(await page.locator("#webhook-secret").count()).toBe(0);

      await page.getByRole("button", { name: `Send test event to ${receiver.url}` }).click();
      await eventually(async () => receiver.received.length >= 1, 15_000);
      const [first] = receiver.received;
      expect(first?.json.type).toBe("webhook.test");
      expect(() =>
        new Webhook(secret).verify(first?.body ?? "", first?.headers as Record<string, string>),
      ).not.toThrow();

      await page.getByRole("button", { name: `Deliveries of ${receiver.url}` }).click();
      const failing = page.locator("tr.delivery-failing");
      await eventually(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return (await failing.count()) === 1;
      }, 15_000);
      await shoot(page, "webhooks-deliveries", "desktop");

      healthy = true;
      await failing.getByRole("button", { name: /Retry/ }).click();
      await eventually(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return (await page.locator(".delivery-delivered").count()) === 1;
      }, 15_000);
      expect(receiver.received.map((request) => request.id)).toEqual([first?.id, first?.id]);

      await page.getByRole("button", { name: `Pause ${receiver.url}` }).click();
      await page.getByRole("cell", { name: "Paused" }).waitFor();
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByRole("button", { name: `Delete ${receiver.url}` }).click();
      await page.getByText("No webhooks yet.").waitFor();

      const mobile = await browser.newContext({ viewport: VIEWPORTS.mobile, reducedMotion: "reduce" });
      const small = await open(mobile, "/webhooks");
      await small.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, "webhooks is wider than 375 px").toBeLessThanOrEqual(0);
      await shoot(small, "webhooks", "mobile");
      await mobile.close();
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      await receiver.close();
    }
  }, 120_000);
});
