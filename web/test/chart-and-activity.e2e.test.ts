// @vitest-environment node
// In a real browser against the whole stack: the lead chart drawn from the whole history (no cliff where older events
// were sampled), with its stage lines and the stages entered; the lead table sorted by latest activity; the event
// form listing a time far in the future with the other problems.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "../../test-support/index.ts";
import { ADMIN_TOKEN, type BrowserStack, startBrowserStack, VIEWPORTS, WRITE_KEY } from "./browser-stack.ts";

const HOUR = 60 * 60 * 1000;

describe("the truthful chart, latest activity and the event form in a browser", () => {
  let stack: BrowserStack;
  const run = uniqueName("truth").slice(-6);
  /** 120 page views an hour apart: 5 points each, so the score climbs steadily to 600. */
  const steady = `tr-${run}-steady`;
  /** Its newest event two hours ago, but its profile edited last. */
  const edited = `tr-${run}-act-edited`;
  /** Its newest event a minute ago. */
  const active = `tr-${run}-act-active`;
  const start = Date.now() - 121 * HOUR;
  const contexts: BrowserContext[] = [];

  async function open(path: string): Promise<Page> {
    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    contexts.push(context);
    return stack.open(context, path);
  }

  beforeAll(async () => {
    stack = await startBrowserStack("truth");
    await stack.send([
      ...Array.from({ length: 120 }, (_, i) => ({
        event_id: `${steady}-${i}`,
        lead_id: steady,
        event_type: "page_view",
        timestamp: start + i * HOUR,
      })),
      { event_id: `${edited}-1`, lead_id: edited, event_type: "page_view", timestamp: Date.now() - 2 * HOUR },
      { event_id: `${active}-1`, lead_id: active, event_type: "page_view", timestamp: Date.now() - 60_000 },
    ]);
    await stack.scored({ [steady]: 120, [edited]: 1, [active]: 1 });
    const edit = await fetch(`${stack.base}/api/leads/${edited}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ company: `Edited ${run}` }),
    });
    expect(edit.status).toBe(200);
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  it("draws 120 steady hourly events as a rising line, with the stage lines and the stages entered", async () => {
    const page = await open(`/leads/${steady}`);
    const chart = page.locator("svg[role=img]");
    await chart.waitFor({ timeout: 15_000 });
    expect(await chart.getAttribute("aria-label")).toMatch(/^Score over time: 120 events .*score now 600/);
    // The line's height (in the SVG's units, down is higher) where it crosses each hour's time: a steady climb, so
    // at every hour it is above where it was 12 hours before — no flat stretch followed by a cliff.
    const heights = await page.evaluate(() => {
      const path = document.querySelector("svg[role=img] path.chart-line") as SVGPathElement;
      const length = path.getTotalLength();
      const samples: [number, number][] = [];
      for (let at = 0; at <= length; at += 0.5) {
        const point = path.getPointAtLength(at);
        samples.push([point.x, point.y]);
      }
      // Per hour of the 119 between the first event and the newest: the line's height at that x (the lowest point
      // drawn there, as a step rises at its event).
      return Array.from({ length: 120 }, (_, hour) => {
        const x = (hour / 119) * 600;
        const near = samples.filter(([sx]) => Math.abs(sx - x) <= 1).map(([, y]) => y);
        return Math.min(...near);
      });
    });
    for (const hour of [12, 24, 36, 60, 90]) {
      const [before, at, after] = [hour - 12, hour, hour + 12].map((h) => heights[h] ?? Number.NaN) as [
        number,
        number,
        number,
      ];
      expect({ hour, between: before > at && at > after }).toEqual({ hour, between: true });
    }
    expect(await chart.locator(".chart-threshold").evaluateAll((lines) => lines.map((l) => l.dataset.stage))).toEqual([
      "warm",
      "hot",
      "qualified",
    ]);
    expect(await chart.locator(".chart-stage-mark").evaluateAll((marks) => marks.map((m) => m.dataset.stage))).toEqual([
      "warm",
      "hot",
      "qualified",
    ]);
  }, 60_000);

  it("sorts the table by latest activity, which a profile edit does not move, and by update, which it does", async () => {
    const page = await open(`/?q=tr-${run}-act`);
    const ids = () => page.locator("table.leads-table tbody .lead-link").allTextContents();
    await expect.poll(ids, { timeout: 15_000 }).toHaveLength(2);

    const activity = page.getByRole("columnheader", { name: /Latest activity/ });
    await activity.getByRole("button").click();
    await page.waitForURL(/sort=-last_event_at/);
    expect(await activity.getAttribute("aria-sort")).toBe("descending");
    await expect.poll(ids, { timeout: 10_000 }).toEqual([active, edited]);
    await activity.getByRole("button").click();
    await page.waitForURL(/sort=last_event_at/);
    expect(await activity.getAttribute("aria-sort")).toBe("ascending");
    await expect.poll(ids, { timeout: 10_000 }).toEqual([edited, active]);

    await page
      .getByRole("columnheader", { name: /Updated/ })
      .getByRole("button")
      .click();
    await page.waitForURL(/sort=-updated_at/);
    await expect.poll(ids, { timeout: 10_000 }).toEqual([edited, active]);
  }, 60_000);

  it("lists a time far in the future with the form's other problems, in one round, sending nothing", async () => {
    const page = await open("/events/new");
    await page.getByRole("option", { name: /Purchase/ }).waitFor({ state: "attached" });
    await page.getByLabel("Lead id").fill("crm 0150");
    await page.getByText("Optional fields").click();
    await page.getByLabel("Event id").fill("has space");
    await page.getByLabel("Event time").fill("2030-01-02T03:04");
    await page.getByLabel("Write key").fill(WRITE_KEY);
    const posts: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "POST") posts.push(request.url());
    });
    await page.getByLabel("Write key").press("Enter");
    await page.locator("#lead_id-error").waitFor();
    expect(await page.locator("#event_id-error").count()).toBe(1);
    expect(await page.locator("#timestamp-error").textContent()).toContain("is more than 5 minutes in the future");
    expect(posts).toEqual([]);
  }, 60_000);
});
