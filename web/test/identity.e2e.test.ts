// @vitest-environment node
// The identity issue's "done when", end to end through the HTTP API of the whole stack (edge on Deno, worker,
// realtime as child processes), then the known lead's page in a real browser: "merged from anon-7f3c… (3 events)".
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { ROOT } from "../../test-support/processes.ts";
import { type BrowserStack, READ_TOKEN, startBrowserStack, VIEWPORTS, WRITE_KEY } from "./browser-stack.ts";

const SCREENSHOTS = join(ROOT, "artifacts", "screenshots");
const MINUTE = 60_000;

interface Lead {
  _id: string;
  current_score: number;
  event_count: number;
  merged_from?: { id: string; events: number }[];
}

describe("an anonymous visitor identified, in a browser against the running stack", () => {
  let stack: BrowserStack;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startBrowserStack("e2e-identity");
  }, 180_000);

  afterAll(() => stack?.stop(), 60_000);

  const read = async <T>(path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${stack.base}${path}`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    return { status: response.status, body: (await response.json()) as T };
  };
  const pixel = async (query: Record<string, string>) => {
    const response = await fetch(`${stack.base}/p.gif?${new URLSearchParams({ key: WRITE_KEY, ...query })}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/gif");
  };
  const post = (path: string, body: unknown) =>
    fetch(`${stack.base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": WRITE_KEY },
      body: JSON.stringify(body),
    });
  const leadOnceIt = (id: string, done: (lead: Lead) => boolean) =>
    eventually(async () => {
      const { status, body } = await read<Lead>(`/api/leads/${id}`);
      return status === 200 && done(body) && body;
    }, 30_000);

  it("merges three pixel hits into Ada's lead, adds a fourth, refuses identify(null) and shows the merge", async () => {
    const anon = `anon-7f3c${randomUUID().slice(0, 8)}`;
    const ada = `ada-${randomUUID().slice(0, 8)}`;
    const t0 = Date.now() - 60 * MINUTE;
    const hit = (n: number) => ({
      lead_id: anon,
      event_type: "page_view",
      event_id: `${anon}-pv${n}`,
      ts: String(t0 + n * MINUTE),
      m_path: "/pricing",
    });
    for (const n of [1, 2, 3]) await pixel(hit(n));
    await leadOnceIt(anon, (lead) => lead.event_count === 3);

    const identify = await post("/api/identify", { anonymous_id: anon, lead_id: ada });
    expect(identify.status).toBe(202);
    const form = { lead_id: ada, event_type: "form_submission", event_id: `${ada}-form`, timestamp: t0 + 4 * MINUTE };
    expect((await post("/api/events", form)).status).toBe(202);

    // All four events on Ada, in time order, with the right score (3 page views of 5, a form of 20).
    const merged = await leadOnceIt(ada, (lead) => lead.event_count === 4 && lead.merged_from !== undefined);
    expect(merged).toMatchObject({ _id: ada, current_score: 35, merged_from: [{ id: anon, events: 3 }] });
    const history = await read<{ event_id: string; score: number }[]>(
      `/api/leads/${encodeURIComponent(ada)}/history?order=asc`,
    );
    // The merge, committed after every event's time here, is an entry of its own.
    expect(history.body.map((entry) => [entry.event_id, entry.score])).toEqual([
      [`${anon}-pv1`, 5],
      [`${anon}-pv2`, 10],
      [`${anon}-pv3`, 15],
      [`${ada}-form`, 35],
      [`merge:${anon}`, 35],
    ]);
    // The anonymous lead is gone from the lists; its id answers Ada.
    const list = await read<{ _id: string }[]>("/api/leads?limit=200");
    expect(list.body.map((lead) => lead._id)).toEqual([ada]);
    const top = await read<{ _id: string }[]>("/api/leads/leaderboard?limit=10");
    expect(top.body.map((lead) => lead._id)).toEqual([ada]);
    expect((await read<Lead>(`/api/leads/${anon}`)).body).toMatchObject({ _id: ada, current_score: 35 });

    // A fourth pixel hit as the anonymous id adds to Ada.
    await pixel(hit(5));
    await leadOnceIt(ada, (lead) => lead.event_count === 5 && lead.current_score === 40);

    // identify(null) is refused, as is identifying the anonymous id again as someone else.
    const refused = await post("/api/identify", { anonymous_id: anon, lead_id: null });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    expect((await post("/api/identify", { anonymous_id: anon, lead_id: "someone-else" })).status).toBe(409);

    const context = await stack.browser.newContext({ viewport: VIEWPORTS.desktop, reducedMotion: "reduce" });
    try {
      const page = await stack.open(context, `/leads/${encodeURIComponent(ada)}`);
      const mergedFrom = page.getByTestId("merged-from");
      await mergedFrom.waitFor({ timeout: 15_000 });
      expect((await mergedFrom.textContent())?.replace(/\s+/g, " ").trim()).toBe("merged from anon-7f3c… (3 events)");
      expect(await mergedFrom.locator("code").getAttribute("title")).toBe(anon);
      await eventually(async () => (await page.getByTestId("current-score").textContent()) === "40", 15_000);
      const entries = page.getByRole("list", { name: "Score history" }).locator(":scope > li");
      await eventually(async () => (await entries.count()) === 6, 15_000);
      await page.getByText(/^merged from anon-7f3c… \(3 events\), (0|20) → (15|35)$/).waitFor({ timeout: 15_000 });
      await page.screenshot({ path: join(SCREENSHOTS, "lead-merged-desktop.png"), fullPage: true });

      // A page still holding the anonymous id reads the visitor's lead: Ada's score and history.
      const byCookie = await stack.open(context, `/leads/${anon}`);
      await eventually(async () => (await byCookie.getByTestId("current-score").textContent()) === "40", 15_000);
      const anonEntries = byCookie.getByRole("list", { name: "Score history" }).locator(":scope > li");
      await eventually(async () => (await anonEntries.count()) === 6, 15_000);
      // And follows Ada live: a sixth hit as the anonymous id shows without a reload.
      await byCookie.getByText("Live", { exact: true }).waitFor({ timeout: 15_000 });
      await pixel(hit(6));
      await eventually(async () => (await byCookie.getByTestId("current-score").textContent()) === "45", 15_000);
      expect(stack.problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});
