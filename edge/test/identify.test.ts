// The identity issue's "done when": pixel hits as an anonymous id, an identify, a form as the known lead, all through
// the edge and a worker on real Redis and the MongoDB-compatible store.
import type { Worker } from "@leadscore/worker";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { type Edge, KEY, MINUTE, startStack, T0 } from "./identify-fixtures.ts";

const pixel = (edge: Edge, query: Record<string, string>) =>
  edge.app.request(`/p.gif?${new URLSearchParams({ key: KEY, ...query })}`);

const post = (edge: Edge, path: string, body: unknown) =>
  edge.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-write-key": KEY },
    body: JSON.stringify(body),
  });

describe("when an anonymous visitor is identified", () => {
  let stack: { edge: Edge; worker: Worker } | undefined;
  afterEach(async () => {
    await stack?.worker.close();
    await stack?.edge.close();
    stack = undefined;
  });

  it("shows every event on the known lead in time order, drops the anonymous lead and refuses identify(null)", async () => {
    stack = await startStack();
    const { edge } = stack;
    for (const n of [1, 2, 3]) {
      const hit = { lead_id: "anon-1", event_type: "page_view", event_id: `pv${n}`, ts: String(T0 + n * MINUTE) };
      expect((await pixel(edge, { ...hit, m_path: "/pricing" })).status).toBe(200);
    }
    const anon = await eventually(async () => {
      const body = (await (await edge.read("/api/leads/anon-1")).json()) as { event_count?: number };
      return body.event_count === 3 && body;
    });
    expect(anon).toMatchObject({ _id: "anon-1", current_score: 15 });

    const identify = await post(edge, "/api/identify", { anonymous_id: "anon-1", lead_id: "ada" });
    expect(identify.status).toBe(202);
    expect(await identify.json()).toEqual({ success: true, anonymous_id: "anon-1", lead_id: "ada" });
    const form = { lead_id: "ada", event_type: "form_submission", event_id: "form1", timestamp: T0 + 4 * MINUTE };
    expect((await post(edge, "/api/events", form)).status).toBe(202);

    // The merged-from list is written just after the commit that folds the anonymous lead in.
    const ada = await eventually(async () => {
      const body = (await (await edge.read("/api/leads/ada")).json()) as { event_count?: number; merged_from?: [] };
      return body.event_count === 4 && body.merged_from !== undefined && body;
    });
    expect(ada).toMatchObject({ _id: "ada", current_score: 35, merged_from: [{ id: "anon-1", events: 3 }] });
    const history = (await (await edge.read("/api/leads/ada/history?order=asc")).json()) as {
      event_id: string;
      score: number;
      merge?: { score_before: number; score_after: number };
    }[];
    // The merge, committed after every event's time here, is an entry of its own.
    expect(history.map((entry) => [entry.event_id, entry.score])).toEqual([
      ["pv1", 5],
      ["pv2", 10],
      ["pv3", 15],
      ["form1", 35],
      ["merge:anon-1", 35],
    ]);
    // Before or after the form was scored, as the merge and the form raced.
    expect([
      [0, 15],
      [0, 35],
      [20, 35],
    ]).toContainEqual([history[4]?.merge?.score_before, history[4]?.merge?.score_after]);
    // Gone from the lists; asking for it answers the lead it became.
    const list = (await (await edge.read("/api/leads?limit=200")).json()) as { _id: string }[];
    expect(list.map((lead) => lead._id)).toEqual(["ada"]);
    const top = (await (await edge.read("/api/leads/leaderboard?limit=10")).json()) as { _id: string }[];
    expect(top.map((lead) => lead._id)).toEqual(["ada"]);
    const found = (await (await edge.read("/api/leads?q=anon")).json()) as { _id: string }[];
    expect(found).toEqual([]);
    expect(await (await edge.read("/api/leads/anon-1")).json()).toMatchObject({ _id: "ada", current_score: 35 });
    expect(await (await edge.read("/api/stats")).json()).toMatchObject({
      leads: 1,
      by_stage: { cold: 1, warm: 0, hot: 0, qualified: 0 },
    });

    // A fourth hit as anon-1 adds to Ada.
    const fourth = { lead_id: "anon-1", event_type: "page_view", event_id: "pv4", ts: String(T0 + 5 * MINUTE) };
    expect((await pixel(edge, fourth)).status).toBe(200);
    const after = await eventually(async () => {
      const body = (await (await edge.read("/api/leads/ada")).json()) as { event_count?: number };
      return body.event_count === 5 && body;
    });
    expect(after).toMatchObject({ current_score: 40 });
    const fifth = (await (await edge.read("/api/leads/ada/history?limit=2")).json()) as { event_id: string }[];
    expect(fifth.map((entry) => entry.event_id)).toEqual(["merge:anon-1", "pv4"]);

    // identify(null) and its cousins are refused.
    const refused = await post(edge, "/api/identify", { anonymous_id: "anon-1", lead_id: null });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: {
        code: "VALIDATION_FAILED",
        message: "lead_id is a placeholder, not an identity",
        details: [{ path: "lead_id", message: "is a placeholder, not an identity" }],
      },
    });
    // Identifying twice is a no-op.
    const again = await post(edge, "/api/identify", { anonymous_id: "anon-1", lead_id: "ada" });
    expect(again.status).toBe(200);
  });
});
