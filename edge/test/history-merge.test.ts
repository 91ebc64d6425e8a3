// The history of a lead another was merged into: one merge entry, with no event, at the instant the merge committed,
// derived at read time from the lead's merge log — its score the history's there, what it brought, and the lead's
// scores either side of the merge. Paging in either order lists it once, settled pages included, and a late event
// that lands before it moves its score as it moves any later entry.
import type { EventsJob } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { eventually } from "../../test-support/index.ts";
import { createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";

const MINUTE = 60_000;
const T = Date.now() - 3 * 60 * MINUTE;

let stack: TestStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;

interface Entry {
  event_id: string;
  event_type: string;
  timestamp: string;
  points: number;
  delta: number;
  score: number;
  cause: string;
  reason: string;
  merge?: { from: string; events: number; score_before: number | null; score_after: number | null };
}

beforeAll(async () => {
  stack = await createStack();
  edge = await createDecayEdge(stack);
  await stack.startWorker({ deepLaneIdleMs: 20 });
});

afterAll(async () => {
  edge?.close();
  await stack?.close();
});

/** Every entry, paged `limit` at a time in `order`, following the `Link` header. */
const history = (leadId: string, order: "asc" | "desc", limit: number): Promise<Entry[]> =>
  edge.readPages(`/api/leads/${leadId}/history?order=${order}&limit=${limit}`);

/** Page views (+5 each): `count` of them a minute apart from `from`. */
const views = (leadId: string, count: number, from: number) =>
  Array.from({ length: count }, (_, n) => queued(leadId, `${leadId}-${n}`, "page_view", from + n * MINUTE));

/** Merges `from` into `into` through the worker, and waits until the merged lead's history is `into`'s. */
async function merge(from: string, into: string, events: number) {
  const job: EventsJob = { v: 1, events: [], merges: [{ from, into, kind: "identify", at: Date.now() }] };
  await stack.queue.add(job, { attempts: 10, backoff: 50 });
  return eventually(async () => {
    const lead = (await (await edge.read(`/api/leads/${into}`)).json()) as { event_count?: number; merged_from?: [] };
    return lead.event_count === events && lead.merged_from !== undefined && lead;
  });
}

describe("when another lead was merged into a lead", () => {
  it("lists one merge entry at the merge's instant, in both orders and across pages, settled pages included", async () => {
    // 80 views of the known lead and 40 of the anonymous one, interleaved: past the tail Redis keeps.
    await stack.send([...views("known-1", 80, T), ...views("anon-1", 40, T + 30_000)], 50);
    await stack.drained();
    const mergedAt = Date.now();
    await merge("anon-1", "known-1", 120);
    // Five more views, after the merge.
    await stack.send(views("known-1-after", 5, Date.now() + 1000).map((event) => ({ ...event, lead_id: "known-1" })));
    await stack.drained();

    const first = await edge.read("/api/leads/known-1/history?order=asc&limit=200");
    expect(first.headers.get("x-total-count")).toBe("125");
    const all = (await first.json()) as Entry[];
    expect(all).toHaveLength(126);
    const at = all.findIndex((entry) => entry.cause === "merge");
    // After every event stored before the merge, before every one after it.
    expect(at).toBe(120);
    const entry = all[at] as Entry;
    expect(entry).toMatchObject({
      event_id: "merge:anon-1",
      event_type: "merge",
      points: 0,
      delta: 0,
      score: 600,
      reason: "merged from anon-1 (40 events)",
      merge: { from: "anon-1", events: 40, score_before: 400, score_after: 600 },
    });
    expect(Date.parse(entry.timestamp)).toBeGreaterThanOrEqual(mergedAt);
    expect(all.slice(121).map((e) => e.score)).toEqual([605, 610, 615, 620, 625]);

    for (const limit of [1, 7, 50, 121]) {
      expect(await history("known-1", "asc", limit)).toEqual(all);
      expect(await history("known-1", "desc", limit)).toEqual([...all].reverse());
    }
    // The merged id reads the lead it became, merge entry and all.
    const merged = await edge.read("/api/leads/anon-1/history?order=asc&limit=200");
    expect(merged.headers.get("content-location")).toBe("/api/leads/known-1/history?order=asc&limit=200");
    expect(await merged.json()).toEqual(all);
  });

  it("moves the merge entry's score when a late event lands before it, keeping the scores it committed with", async () => {
    await stack.send([...views("known-2", 3, T), ...views("anon-2", 2, T + 30_000)]);
    await stack.drained();
    await merge("anon-2", "known-2", 5);
    const before = await history("known-2", "asc", 50);
    expect(before.map((entry) => [entry.event_id, entry.score])).toEqual([
      ["known-2-0", 5],
      ["anon-2-0", 10],
      ["known-2-1", 15],
      ["anon-2-1", 20],
      ["known-2-2", 25],
      ["merge:anon-2", 25],
    ]);

    await stack.send([queued("known-2", "late-1", "form_submission", T + 10 * MINUTE)]);
    await stack.drained();
    const after = await history("known-2", "desc", 2);
    expect(after.map((entry) => [entry.event_id, entry.score])).toEqual([
      ["merge:anon-2", 45],
      ["late-1", 45],
      ["known-2-2", 25],
      ["anon-2-1", 20],
      ["known-2-1", 15],
      ["anon-2-0", 10],
      ["known-2-0", 5],
    ]);
    expect(after[0]?.merge).toEqual({ from: "anon-2", events: 2, score_before: 15, score_after: 25 });
  });

  it("lists no merge entry for a lead nothing was merged into", async () => {
    await stack.send(views("alone", 3, T));
    await stack.drained();
    const entries = await history("alone", "asc", 2);
    expect(entries.map((entry) => entry.cause)).toEqual(["event", "event", "event"]);
  });
});
