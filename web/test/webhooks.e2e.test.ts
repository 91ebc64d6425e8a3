// @vitest-environment node
// The Webhooks page in a real browser against the whole stack, the webhook dispatcher included, and a local
// receiver that fails, then answers.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { ROOT } from "../../test-support/processes.ts";
import { createReceiver } from "../../test-support/webhook-receiver.ts";
import { ADMIN_TOKEN, type BrowserStack, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");

describe("the Webhooks page in a browser", () => {
  let stack: BrowserStack;
  let base = "";
  let problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startBrowserStack("e2e-webhooks", { dispatcher: true });
    base = stack.base;
    problems = stack.problems;
  }, 180_000);

  afterAll(() => stack?.stop(), 60_000);

  const open = (context: BrowserContext, path: string) => stack.open(context, path, { token: ADMIN_TOKEN });
  const browser = {
    newContext: (...args: Parameters<BrowserStack["browser"]["newContext"]>) => stack.browser.newContext(...args),
  };

  async function shoot(page: Page, name: string, viewport: keyof typeof VIEWPORTS) {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${viewport}.png`), fullPage: true });
  }

  it("creates a webhook showing its secret once, sends a test event, highlights a failed delivery and retries it", async () => {
    let healthy = false;
    const receiver = await createReceiver(() => (healthy ? 200 : 500));
    const context = await browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    try {
      const page = await open(context, "/");
      await page.getByRole("link", { name: "Webhooks" }).click();
      await page.getByRole("heading", { level: 1, name: "Webhooks" }).waitFor();
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
