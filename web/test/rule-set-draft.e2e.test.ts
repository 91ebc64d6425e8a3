// @vitest-environment node
// A rule-set draft in a real browser against the whole stack: demo_request's points doubled in a draft, previewed
// over the stored events (the numbers, the stage matrix, the movers), published for new events; a second draft
// published, then the first version published again (a rollback); then published again retroactively, its re-score
// shown by a banner on every page.
import { rescoreBatchesKey } from "@leadscore/runtime";
import { Redis } from "ioredis";
import type { BrowserContext } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { ADMIN_TOKEN, type BrowserStack, READ_TOKEN, startBrowserStack, VIEWPORTS } from "./browser-stack.ts";

describe("a rule-set draft in a browser", () => {
  let stack: BrowserStack;
  let context: BrowserContext;
  const run = uniqueName("draft").slice(-6).toLowerCase();
  const hot = `draft-${run}-hot`;
  const cold = `draft-${run}-cold`;
  const still = `draft-${run}-still`;

  beforeAll(async () => {
    stack = await startBrowserStack("rule-set-draft");
    context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
  }, 240_000);
  afterAll(async () => {
    await context?.close();
    await stack?.stop();
  }, 60_000);
  afterEach(() => {
    expect(stack?.problems.splice(0) ?? []).toEqual([]);
  });

  async function demoRequestPoints(): Promise<number | undefined> {
    const response = await fetch(`${stack.base}/api/rules`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    const rules = (await response.json()) as { _id: string; points: number }[];
    return rules.find((rule) => rule._id === "demo_request")?.points;
  }

  it("edits a draft, previews it, sees what it would change, publishes it, and rolls a later one back", async () => {
    const at = (n: number) => new Date(Date.UTC(2026, 0, 5, 9, n)).toISOString();
    const event = (lead: string, type: string, n: number) => ({
      event_id: `${lead}-${n}`,
      lead_id: lead,
      event_type: type,
      timestamp: at(n),
    });
    // 6 × 50 = 300 (hot) becomes 600 (qualified); 50 (cold) becomes 100 (warm); an email open stays 10.
    await stack.send([
      ...[1, 2, 3, 4, 5, 6].map((n) => event(hot, "demo_request", n)),
      event(cold, "demo_request", 1),
      event(still, "email_open", 1),
    ]);
    await stack.scored({ [hot]: 6, [cold]: 1, [still]: 1 });

    const page = await stack.open(context, "/rules", { token: ADMIN_TOKEN });
    page.on("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Edit as draft" }).click();
    const points = page.getByLabel("Draft points for demo_request");
    await points.waitFor({ timeout: 15_000 });
    expect(await points.inputValue()).toBe("50");
    await points.fill("100");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByText("Draft saved").waitFor({ timeout: 10_000 });
    // The rule form, opened from the draft, adds a rule to the draft, not to the live rules.
    await page.getByRole("button", { name: "Add a rule to the draft" }).click();
    await page.getByLabel("Event type").fill("webinar");
    await page.getByLabel("Points", { exact: true }).fill("30");
    await page.getByRole("button", { name: "Create rule" }).click();
    await page.getByLabel("Draft points for webinar").waitFor({ timeout: 10_000 });
    // Nothing live changed.
    expect(await demoRequestPoints()).toBe(50);
    const live = await fetch(`${stack.base}/api/rules`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(((await live.json()) as { event_type: string }[]).map((rule) => rule.event_type)).not.toContain("webinar");

    await page.getByRole("button", { name: "Preview", exact: true }).click();
    const summary = page.getByTestId("preview-summary");
    await summary.waitFor({ timeout: 60_000 });
    expect(await summary.textContent()).toBe("2 leads change, 1 becomes qualified, 2 webhooks would fire");
    const matrix = page.getByRole("table", { name: "Stage now by stage under the draft" });
    expect(await matrix.getByRole("row", { name: /^hot/ }).getByRole("cell").allTextContents()).toEqual([
      "0",
      "0",
      "0",
      "1",
    ]);
    await page.getByRole("table", { name: "Score histogram now and under the draft" }).waitFor();
    const movers = page.getByRole("table", { name: "Leads that move most" });
    const first = await movers.getByRole("row").nth(1).textContent();
    expect(first).toContain(hot);
    expect(first).toContain("300 → 600 (+300)");
    expect(first).toContain("demo_request 300 → 600");

    await page.getByRole("button", { name: "Publish (new events only)" }).click();
    const published = page.getByText(/Version \d+ is in force/);
    await published.waitFor({ timeout: 10_000 });
    const made = Number((await published.textContent())?.match(/Version (\d+)/)?.[1]);
    expect(await demoRequestPoints()).toBe(100);
    // The draft is used up: the page offers a new one.
    await page.getByRole("button", { name: "Edit as draft" }).waitFor({ timeout: 10_000 });
    // The rules list shows the published points.
    await eventually(async () => (await page.getByLabel("Points for demo_request").inputValue()) === "100", 10_000);

    // A second draft (150 points) published, then rolled back: the first one is published again, as the next version.
    await page.getByRole("button", { name: "Edit as draft" }).click();
    await points.waitFor({ timeout: 15_000 });
    expect(await points.inputValue()).toBe("100");
    await points.fill("150");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByText("Draft saved").waitFor({ timeout: 10_000 });
    await page.getByRole("button", { name: "Publish (new events only)" }).click();
    await page.getByText(`Version ${made + 1} is in force`).waitFor({ timeout: 10_000 });
    expect(await demoRequestPoints()).toBe(150);

    await page.getByRole("button", { name: `Publish version ${made} again` }).click();
    await page.getByText(`Version ${made + 2} is in force`).waitFor({ timeout: 10_000 });
    expect(await demoRequestPoints()).toBe(100);
    const versions = page.getByRole("table", { name: "Versions" });
    await eventually(async () => ((await versions.getByRole("row").nth(1).textContent()) ?? "").includes("in force"));
    expect(await versions.getByRole("row").nth(1).textContent()).toContain(`version ${made} again`);

    // Published again retroactively, version `made` (100 points) re-scores the history scored at 50: a banner with a
    // progress bar shows the re-score on every page until it ends, and then the leads hold the new scores.
    // A batch still in flight holds the re-score back until it commits (worker/src/rules-fence.ts): one filed here
    // keeps the re-score running long enough to be seen, whatever the box's speed.
    const redis = new Redis(REDIS_URL);
    const held = `held-${uniqueName("batch")}`;
    await redis.zadd(rescoreBatchesKey(stack.prefix), Date.now(), held);
    await page.getByRole("button", { name: `Publish version ${made} and re-score every lead` }).click();
    await page.getByText(`Version ${made + 3} is in force`).waitFor({ timeout: 10_000 });
    const banner = page.getByTestId("rescore-banner");
    await banner.waitFor({ timeout: 15_000 });
    expect(await banner.textContent()).toContain(`Re-scoring every lead with rule set version ${made + 3}`);
    await page.getByRole("link", { name: "Leaderboard" }).click();
    await page.getByRole("progressbar", { name: "Re-score progress" }).waitFor({ timeout: 5_000 });
    await redis.zrem(rescoreBatchesKey(stack.prefix), held);
    redis.disconnect();
    await banner.waitFor({ state: "detached", timeout: 90_000 });
    const score = async (lead: string) => {
      const response = await fetch(`${stack.base}/api/leads/${lead}`, {
        headers: { authorization: `Bearer ${READ_TOKEN}` },
      });
      return ((await response.json()) as { current_score: number }).current_score;
    };
    expect([await score(hot), await score(cold), await score(still)]).toEqual([600, 100, 10]);
    await page.close();
  }, 360_000);
});
