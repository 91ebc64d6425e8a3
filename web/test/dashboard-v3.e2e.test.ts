// @vitest-environment node
// Dashboard v3 in a real browser against the whole stack: one sign-in per browser that every tab shares, the admin
// token unlocking every admin page at once, and pages that need admin saying so with a link instead of a field; the
// lead table's dates, sortable headings and address; the Webhooks page keeping itself current; the lead chart drawn
// from the whole history with its stage lines; the table sorted by latest activity.
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, uniqueName } from "../../test-support/index.ts";
import { createReceiver } from "../../test-support/webhook-receiver.ts";
import { ADMIN_TOKEN, type BrowserStack, READ_TOKEN, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

describe("dashboard v3 in a browser", () => {
  let stack: BrowserStack;
  const run = uniqueName("v3").slice(-6);
  const lead = `v3-${run}-lead`;
  // Leads of their own for the list tests (`q=…-list` shows these two only), and one the search test names: tests run
  // in a shuffled order, so none may depend on what another changed.
  /** A lead whose only event is 40 days old. */
  const old = `v3-${run}-list-old`;
  /** A lead of 105 points, its events a minute old. */
  const recent = `v3-${run}-list-new`;
  const named = `v3-${run}-named`;
  const DAY = 24 * 60 * 60 * 1000;
  const oldAt = Date.now() - 40 * DAY;
  const contexts: BrowserContext[] = [];

  /** A fresh browser (its own storage), closed after the test. */
  async function newBrowser(): Promise<BrowserContext> {
    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    contexts.push(context);
    return context;
  }

  /** A page of `context` opened without signing in: what the user sees on a new tab. */
  async function newTab(context: BrowserContext, path: string): Promise<Page> {
    return stack.open(context, path, { signIn: false });
  }

  const sessionIn = (page: Page, store: "localStorage" | "sessionStorage") =>
    page.evaluate((name) => JSON.parse(window[name].getItem("leadscore.session") ?? "null"), store);

  beforeAll(async () => {
    stack = await startBrowserStack("v3", { dispatcher: true });
    await stack.send([
      { event_id: `${lead}-1`, lead_id: lead, event_type: "purchase", timestamp: Date.now() - 60_000 },
      { event_id: `${lead}-2`, lead_id: lead, event_type: "page_view", timestamp: Date.now() - 30_000 },
      { event_id: `${old}-1`, lead_id: old, event_type: "page_view", timestamp: oldAt },
      { event_id: `${recent}-1`, lead_id: recent, event_type: "purchase", timestamp: Date.now() - 60_000 },
      { event_id: `${recent}-2`, lead_id: recent, event_type: "page_view", timestamp: Date.now() - 30_000 },
      { event_id: `${named}-1`, lead_id: named, event_type: "page_view", timestamp: Date.now() - 30_000 },
    ]);
    await stack.scored({ [lead]: 2, [old]: 1, [recent]: 2, [named]: 1 });
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  describe("sessions", () => {
    it("signs in once per browser: a Ctrl+click on a lead opens it signed in, and sign-out leaves every tab", async () => {
      const context = await newBrowser();
      const list = await stack.open(context, `/?q=${lead}`);
      const link = list.getByRole("table").getByRole("link", { name: lead, exact: true });
      await link.waitFor({ timeout: 15_000 });
      const [tab] = await Promise.all([context.waitForEvent("page"), link.click({ modifiers: ["Control"] })]);
      await tab.getByTestId("current-score").waitFor({ timeout: 15_000 });
      expect(await tab.getByLabel("Access token").count()).toBe(0);
      expect(new URL(tab.url()).pathname).toBe(`/leads/${lead}`);

      // The read token is the browser's until sign-out, so a tab opened after every other closed is signed in too.
      expect(await sessionIn(list, "localStorage")).toEqual({ token: READ_TOKEN, role: "read" });
      await list.close();
      await tab.close();
      const later = await newTab(context, "/leaderboard");
      await later.getByRole("heading", { level: 1, name: "Leaderboard" }).waitFor({ timeout: 15_000 });

      // Sign-out in one tab signs out the others.
      const other = await newTab(context, "/rules");
      await other.getByRole("heading", { level: 1, name: "Scoring rules" }).waitFor({ timeout: 15_000 });
      await later.getByRole("button", { name: "Sign out" }).click();
      await other.getByLabel("Access token").waitFor({ timeout: 5_000 });
      expect(await sessionIn(other, "localStorage")).toBeNull();
    }, 120_000);

    it("unlocks rules, webhooks and profile edits with one admin sign-in, kept only while a tab is open", async () => {
      const context = await newBrowser();
      const rules = await stack.open(context, "/rules", { token: ADMIN_TOKEN });
      await rules.getByRole("button", { name: "Create rule" }).waitFor({ timeout: 15_000 });
      await rules.getByLabel("Points for purchase").waitFor();
      expect(await rules.getByText("Admin", { exact: true }).count()).toBe(1);
      expect(await rules.getByLabel("Admin token").count()).toBe(0);

      // Webhooks reads its list at once: no form alone, no token asked.
      await rules.getByRole("link", { name: "Webhooks" }).click();
      // (The list, or that it is empty: another test may have added a webhook.)
      await rules
        .getByText("No webhooks yet.")
        .or(rules.locator("table.webhooks-table"))
        .first()
        .waitFor({ timeout: 15_000 });
      expect(await rules.getByLabel("Admin token").count()).toBe(0);

      // A new tab (no copy of this tab's storage) is handed the admin session by the open one.
      const lead_ = await newTab(context, `/leads/${lead}`);
      await lead_.getByRole("button", { name: "Edit profile" }).click({ timeout: 15_000 });
      await lead_.getByLabel("Company").fill(`Admin Co ${run}`);
      await lead_.getByRole("button", { name: "Save profile" }).click();
      await lead_.getByText(`Admin Co ${run}`).waitFor({ timeout: 10_000 });
      expect(await lead_.getByLabel("Admin token").count()).toBe(0);

      // Not remembered: nothing in the browser's storage, so once every tab is closed, the next one asks again.
      expect(await sessionIn(rules, "localStorage")).toBeNull();
      expect(await sessionIn(rules, "sessionStorage")).toEqual({ token: ADMIN_TOKEN, role: "admin" });
      await rules.close();
      await lead_.close();
      const fresh = await newTab(context, "/rules");
      await fresh.getByLabel("Access token").waitFor({ timeout: 15_000 });

      // Remembered when ticked.
      await fresh.getByLabel("Remember the admin token on this computer").check();
      await stack.signInWith(fresh, ADMIN_TOKEN);
      await fresh.getByRole("button", { name: "Create rule" }).waitFor({ timeout: 15_000 });
      await fresh.close();
      const again = await newTab(context, "/webhooks");
      await again
        .getByText("No webhooks yet.")
        .or(again.locator("table.webhooks-table"))
        .first()
        .waitFor({ timeout: 15_000 });
    }, 120_000);

    it("tells a read token once, with a sign-in link, where admin is needed, and never shows a filled-looking field", async () => {
      const context = await newBrowser();
      const page = await stack.open(context, "/rules");
      const notice = page.getByRole("note");
      await notice.waitFor({ timeout: 15_000 });
      expect(await notice.textContent()).toBe("Changing rules needs the admin token. Sign in as admin");
      // The rules still read, without controls that cannot work.
      await page.getByRole("rowheader", { name: /purchase/ }).waitFor();
      expect(await page.getByRole("button", { name: "Create rule" }).count()).toBe(0);
      expect(await page.getByLabel("Points for purchase").count()).toBe(0);

      for (const [path, text] of [
        ["/webhooks", "Managing webhooks needs the admin token. Sign in as admin"],
        [`/leads/${lead}`, "Editing the profile needs the admin token. Sign in as admin"],
      ] as const) {
        await page.goto(`${stack.base}${path}`);
        await page.getByRole("note").waitFor({ timeout: 15_000 });
        expect(await page.getByRole("note").allTextContents()).toEqual([text]);
        expect(await page.locator("input[placeholder]").count()).toBe(0);
      }

      // The link signs in as admin and comes back to the page that asked.
      await page.getByRole("link", { name: "Sign in as admin" }).click();
      await page.getByRole("heading", { level: 1, name: "Sign in as admin" }).waitFor();
      expect(await page.locator("input[placeholder]").count()).toBe(0);
      await stack.signInWith(page, ADMIN_TOKEN);
      await page.getByRole("button", { name: "Edit profile" }).waitFor({ timeout: 15_000 });
      expect(new URL(page.url()).pathname).toBe(`/leads/${lead}`);
    }, 120_000);
  });

  describe("lists", () => {
    const row = (page: Page, id: string) =>
      page.locator("table.leads-table tbody tr", { has: page.getByRole("link", { name: id, exact: true }) });
    const ids = (page: Page) => page.locator("table.leads-table tbody .lead-link").allTextContents();

    it("shows an old moment as its date, never as hundreds of days ago", async () => {
      const page = await stack.open(await newBrowser(), `/?q=v3-${run}-list`);
      await row(page, old).waitFor({ timeout: 15_000 });
      const activity = (id: string) => row(page, id).getByTestId("lead-activity").locator("time");
      const expected = new Intl.DateTimeFormat("en", { dateStyle: "medium" }).format(
        new Date((await activity(old).getAttribute("datetime")) ?? ""),
      );
      expect(await activity(old).textContent()).toBe(expected);
      expect(await activity(recent).textContent()).toMatch(/^\d+ (s|min) ago$/);
    }, 60_000);

    it("sorts by a column when its heading is clicked, and says which way", async () => {
      const page = await stack.open(await newBrowser(), `/?q=v3-${run}-list`);
      await row(page, old).waitFor({ timeout: 15_000 });
      expect(await ids(page)).toEqual([recent, old]);
      const score = page.getByRole("columnheader", { name: /Score/ });
      expect(await score.getAttribute("aria-sort")).toBe("descending");

      await score.getByRole("button").click();
      await page.waitForURL(/sort=score/);
      expect(await score.getAttribute("aria-sort")).toBe("ascending");
      await expect.poll(() => ids(page), { timeout: 10_000 }).toEqual([old, recent]);

      // The update column sorts by update, and shows the update time it sorts by.
      await page.getByRole("button", { name: "Updated" }).click();
      await page.waitForURL(/sort=-updated_at/);
      const updated = page.getByRole("columnheader", { name: /Updated/ });
      expect(await updated.getAttribute("aria-sort")).toBe("descending");
      expect(await score.getAttribute("aria-sort")).toBeNull();
      await expect.poll(() => row(page, old).locator("time").last().textContent(), { timeout: 10_000 }).toMatch(/ago$/);
    }, 60_000);

    it("finds a lead whatever the accents and the order of the words", async () => {
      const created = await fetch(`${stack.base}/api/leads`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({
          _id: named,
          name: `Jürgen Müller ${run}`,
          email: `jm-${run}@example.de`,
          company: "Ökotech",
        }),
      });
      expect([200, 201]).toContain(created.status);
      const page = await stack.open(await newBrowser(), "/");
      const search = page.getByLabel("Search");
      for (const words of [`muller ${run}`, `${run} JURGEN okotech`]) {
        await search.fill(words);
        await expect.poll(() => ids(page), { timeout: 10_000 }).toEqual([`Jürgen Müller ${run}`]);
      }
    }, 60_000);

    it("takes out of the address what it cannot use, and says so", async () => {
      const page = await stack.open(await newBrowser(), `/?q=v3-${run}-list&stage=bogus&sort=name`);
      const notice = page.locator(".url-notice");
      await notice.waitFor({ timeout: 15_000 });
      expect(await notice.locator("p").textContent()).toBe(
        "Removed from the address: stage=bogus (not a stage), sort=name (not a sort). Dismiss",
      );
      expect(new URL(page.url()).search).toBe(`?q=v3-${run}-list`);
      await row(page, recent).waitFor({ timeout: 15_000 });
      await page.getByRole("button", { name: "Dismiss" }).click();
      expect(await notice.count()).toBe(0);
    }, 60_000);
  });

  describe("the Webhooks page", () => {
    const DATE_TIME = /^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2}\s[AP]M$/;

    it("keeps itself current, says since when deliveries fail, confirms a retry, and fits a phone", async () => {
      let healthy = false;
      const receiver = await createReceiver(() => (healthy ? 200 : 500));
      try {
        const created = await fetch(`${stack.base}/api/webhooks`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ url: receiver.url, events: ["lead.score_changed"] }),
        });
        expect(created.status).toBe(201);
        const page = await stack.open(await newBrowser(), "/webhooks", { token: ADMIN_TOKEN });
        const row = page.locator("table.webhooks-table tbody tr", { hasText: receiver.url });
        const state = row.locator("td[data-label=State]");
        const details = row.locator("td[data-label=Details]");
        await state.waitFor({ timeout: 15_000 });
        expect(await state.textContent()).toBe("Active");
        expect(await details.textContent()).toBe("");

        // A delivery fails; the page, left alone, says since when (the dispatcher's failing_since), its retry pending.
        const hookLead = `v3-${run}-hook`;
        await stack.send([{ event_id: `${hookLead}-1`, lead_id: hookLead, event_type: "purchase" }]);
        await eventually(async () => (await state.textContent())?.startsWith("Failing since "), 30_000);
        expect((await state.textContent())?.replace("Failing since ", "")).toMatch(DATE_TIME);
        await eventually(async () => /^\d+ pending$/.test((await details.textContent()) ?? ""), 15_000);

        // The log: the app's dates, the lead as a link, the payload sent.
        await page.getByRole("button", { name: `Deliveries of ${receiver.url}` }).click();
        const failing = page.locator("tr.delivery-failing");
        await failing.waitFor({ timeout: 15_000 });
        expect(await failing.locator("td[data-label=Queued]").textContent()).toMatch(DATE_TIME);
        expect(await failing.getByRole("link", { name: hookLead }).getAttribute("href")).toBe(`/leads/${hookLead}`);
        await failing.getByText("Payload").click();
        expect(await failing.locator(".payload pre").textContent()).toContain(`"${hookLead}"`);

        // On a phone: cards, nothing wider than the screen, Retry within reach.
        const phone = await stack.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
        contexts.push(phone);
        const small = await stack.open(phone, "/webhooks", { token: ADMIN_TOKEN });
        await small.getByRole("button", { name: `Deliveries of ${receiver.url}` }).click();
        const retryOnPhone = small.getByRole("button", { name: /Retry/ });
        await retryOnPhone.waitFor({ timeout: 15_000 });
        expect(
          await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
        ).toBeLessThanOrEqual(0);
        expect(
          ((await retryOnPhone.boundingBox())?.x ?? 999) + ((await retryOnPhone.boundingBox())?.width ?? 0),
        ).toBeLessThanOrEqual(390);

        // Retry says it was sent again, and the row turns delivered without a click on Refresh.
        healthy = true;
        await failing.getByRole("button", { name: /Retry/ }).click();
        await page.getByText(/^Sent again: the delivery is queued now/).waitFor({ timeout: 10_000 });
        await page.locator("tr .delivery-delivered").waitFor({ timeout: 20_000 });
        await eventually(async () => (await state.textContent()) === "Active", 20_000);
      } finally {
        await receiver.close();
      }
    }, 150_000);
  });

  describe("the headline", () => {
    it("keeps the four stages on one line from 1024 to 1440 px, in plain words", async () => {
      const page = await stack.open(await newBrowser(), "/");
      const steps = page.locator(".funnel-step");
      await steps.first().waitFor({ timeout: 15_000 });
      for (const width of [1024, 1280, 1440]) {
        await page.setViewportSize({ width, height: 900 });
        const tops = await steps.evaluateAll((items) => items.map((item) => item.getBoundingClientRect().top));
        expect(tops, `stages at ${width} px`).toHaveLength(4);
        expect(new Set(tops).size, `stages on one line at ${width} px`).toBe(1);
      }
      expect(await page.locator(".figures dt").allTextContents()).toEqual([
        "Leads",
        "Events received, last 24 h",
        "Events scored, last 24 h",
      ]);
      expect(await page.locator(".headline").textContent()).not.toMatch(/edge|worker/i);
    }, 60_000);

    it("counts each score range above its bar, and a bar shows only that range in the table", async () => {
      const page = await stack.open(await newBrowser(), "/");
      const counts = page.locator(".histogram-count");
      await counts.first().waitFor({ timeout: 15_000 });
      const stats = (await (
        await fetch(`${stack.base}/api/stats`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })
      ).json()) as { score_histogram: { from: number; to: number; count: number }[] };
      expect(await counts.allTextContents()).toEqual(stats.score_histogram.map((bucket) => String(bucket.count)));

      const bar = page.getByRole("button", { name: /^Scores 100–199: \d+ leads?$/ });
      await bar.click();
      await page.waitForURL(/min_score=100&max_score=199/);
      expect(await bar.getAttribute("aria-pressed")).toBe("true");
      await expect
        .poll(
          async () => {
            const scores = (await page.getByTestId("lead-score").allTextContents()).map(Number);
            return scores.length > 0 && scores.every((score) => score >= 100 && score <= 199);
          },
          { timeout: 10_000 },
        )
        .toBe(true);
      await bar.click();
      await expect.poll(() => new URL(page.url()).searchParams.has("min_score"), { timeout: 10_000 }).toBe(false);
    }, 60_000);
  });

  describe("the smaller things", () => {
    it("shows every page's link whole on a phone", async () => {
      const phone = await stack.browser.newContext({ viewport: VIEWPORTS.mobile, isMobile: true, hasTouch: true });
      contexts.push(phone);
      const page = await stack.open(phone, "/");
      const links = page.locator(".nav-link");
      await links.first().waitFor({ timeout: 15_000 });
      const boxes = await links.evaluateAll((items) =>
        items.map((item) => {
          const box = item.getBoundingClientRect();
          return {
            text: item.textContent,
            whole: item.scrollWidth <= item.clientWidth,
            left: box.left,
            right: box.right,
          };
        }),
      );
      expect(boxes.map((box) => box.text)).toEqual([
        "Dashboard",
        "Today",
        "Leaderboard",
        "Submit event",
        "Rules",
        "Webhooks",
        "Settings",
      ]);
      for (const box of boxes) {
        expect(box.whole, `${box.text} whole`).toBe(true);
        expect(box.left, `${box.text} on screen`).toBeGreaterThanOrEqual(0);
        expect(box.right, `${box.text} on screen`).toBeLessThanOrEqual(VIEWPORTS.mobile.width);
      }
    }, 60_000);

    it("keeps the filter row in line when a field shows an error", async () => {
      const page = await stack.open(await newBrowser(), "/");
      await page.getByLabel("Min score").fill("abc");
      await page.locator("#filter-min_score-error").waitFor();
      const tops = await page
        .locator("#filter-q, #filter-company, #filter-min_score, #filter-max_score, #filter-stage, #filter-sort")
        .evaluateAll((inputs) => inputs.map((input) => Math.round(input.getBoundingClientRect().top)));
      // Sort wraps to a line of its own at this width; the five before it share one.
      expect(tops).toHaveLength(6);
      expect(new Set(tops.slice(0, 5)).size).toBe(1);
    }, 60_000);

    it("says an address names no possible lead, without a Try again that cannot help", async () => {
      const page = await stack.open(await newBrowser(), "/leads/not%20a%20lead!");
      await page.getByRole("heading", { level: 1, name: "Lead not found" }).waitFor({ timeout: 15_000 });
      expect(await page.getByText("is not a lead id").count()).toBe(1);
      expect(await page.getByRole("button", { name: "Try again" }).count()).toBe(0);
    }, 60_000);

    it("dates First seen from the first event, not from when the lead was stored", async () => {
      const page = await stack.open(await newBrowser(), `/leads/${old}`);
      const expected = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "medium" }).format(oldAt);
      await expect.poll(() => page.getByTestId("first-seen").textContent(), { timeout: 15_000 }).toBe(expected);
    }, 60_000);

    it("reports every problem of an empty rule form at once, labels a rule as documented, and edits its label", async () => {
      const page = await stack.open(await newBrowser(), "/rules", { token: ADMIN_TOKEN });
      await page.getByRole("button", { name: "Create rule" }).click();
      expect(await page.locator("#new-event_type-error").textContent()).toContain("Enter the event type");
      expect(await page.locator("#new-points-error").textContent()).toContain("Enter a whole number");
      const type = `webinar_attended_${run.toLowerCase().replace(/[^a-z0-9]/g, "")}`;
      await page.getByLabel("Event type").fill(type);
      await page.getByLabel("Points", { exact: true }).fill("40");
      await page.getByRole("button", { name: "Create rule" }).click();
      const label = page.getByLabel(`Label for ${type}`);
      await label.waitFor({ timeout: 10_000 });
      expect(await label.inputValue()).toMatch(/^Webinar Attended /);

      // The label is edited in place like the points, Enter saving it.
      await label.fill("Webinar (live)");
      await label.press("Enter");
      const saved = async () => {
        const rules = (await (
          await fetch(`${stack.base}/api/rules`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })
        ).json()) as { event_type: string; label: string; points: number }[];
        return rules.find((rule) => rule.event_type === type);
      };
      await expect.poll(saved, { timeout: 10_000 }).toMatchObject({ label: "Webinar (live)", points: 40 });
    }, 60_000);
  });

  describe("the lead chart and latest activity", () => {
    const HOUR = 60 * 60 * 1000;
    /** 120 page views an hour apart: 5 points each, so the score climbs steadily to 600. */
    const steady = `v3-${run}-steady`;
    /** Its newest event two hours ago, but its profile edited last. */
    const edited = `v3-${run}-act-edited`;
    /** Its newest event a minute ago. */
    const active = `v3-${run}-act-active`;
    const open = async (path: string) => stack.open(await newBrowser(), path);

    beforeAll(async () => {
      const start = Date.now() - 121 * HOUR;
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
    }, 120_000);

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
      expect(await chart.locator(".chart-threshold").evaluateAll((lines) => lines.map((l) => l.dataset.stage))).toEqual(
        ["warm", "hot", "qualified"],
      );
      expect(
        await chart.locator(".chart-stage-mark").evaluateAll((marks) => marks.map((m) => m.dataset.stage)),
      ).toEqual(["warm", "hot", "qualified"]);
    }, 60_000);

    it("sorts the table by latest activity, which a profile edit does not move, and by update, which it does", async () => {
      const page = await open(`/?q=v3-${run}-act`);
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
  });
});
