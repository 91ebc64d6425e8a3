// The history with decay: stage crossings caused by time show as decay entries between the events, derived at read
// time from the stored entries (nothing is written for them), at the instants the fold with decay gives them — and a
// late event that lands before a crossing moves them as if it had been known all along. Paging in either order lists
// each entry once.
import { crossingInstant, decayKey } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";

const H = 5;
const T = Date.now() - 600_000;

let stack: TestStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;
let now = T + 60_000;

interface Entry {
  event_id: string;
  event_type: string;
  timestamp: string;
  score: number;
  delta: number;
  cause: string;
}

beforeAll(async () => {
  stack = await createStack();
  edge = await createDecayEdge(stack, () => now);
  expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: H })).status).toBe(200);
  await stack.startWorker({ rulesReloadMs: 3_600_000 });
});

afterAll(async () => {
  edge?.close();
  await stack?.close();
});

/** Every entry, paged `limit` at a time in `order`, following the `Link` header. */
const history = (leadId: string, order: "asc" | "desc", limit = 50): Promise<Entry[]> =>
  edge.readPages(`/api/leads/${leadId}/history?order=${order}&limit=${limit}`);

/** 600 (qualified) at T; 150 + 100 = 250 (warm) at T + 10 s; then cold. */
async function scoreTwice(leadId: string) {
  await stack.send([queued(leadId, `${leadId}-1`, "big", T), queued(leadId, `${leadId}-2`, "small", T + 10_000)]);
  await stack.drained();
}

const at = (instant: number) => new Date(instant).toISOString();
const crossing = (score: number, from: number, threshold: number) =>
  crossingInstant(decayKey(score, from, H), threshold, from, H);

describe("when a lead decays across stages between its events", () => {
  it("lists a decay entry, with no event, at each crossing instant, in both orders and across pages", async () => {
    await scoreTwice("hd");
    const asc = await history("hd", "asc");
    expect(asc.map((entry) => [entry.event_id, entry.cause, entry.timestamp])).toEqual([
      ["hd-1", "event", at(T)],
      ["decay:hot", "decay", at(crossing(600, T, 600))],
      ["decay:warm", "decay", at(crossing(600, T, 300))],
      ["hd-2", "event", at(T + 10_000)],
      ["decay:cold", "decay", at(crossing(250, T + 10_000, 100))],
    ]);
    expect(asc[2]).toMatchObject({ event_type: "decay", delta: 0 });
    expect(asc[2]?.score).toBeLessThan(300);
    expect(asc[3]?.score).toBe(250);
    for (const limit of [1, 2, 3]) {
      expect(await history("hd", "asc", limit)).toEqual(asc);
      expect(await history("hd", "desc", limit)).toEqual([...asc].reverse());
    }
  });

  it("shows a crossing after the last event only once its instant has come", async () => {
    await scoreTwice("hd-now");
    const cold = crossing(250, T + 10_000, 100);
    now = cold - 1;
    expect((await history("hd-now", "desc")).map((entry) => entry.event_id)[0]).toBe("hd-now-2");
    now = cold;
    expect((await history("hd-now", "desc")).map((entry) => entry.event_id)[0]).toBe("decay:cold");
    now = T + 60_000;
  });

  it("moves the crossings when a late event lands before them", async () => {
    // +100 at T + 3 s: 600 · 2^-0.6 + 100 ≈ 496 (hot), so the lead crosses into warm later.
    await scoreTwice("hd-l");
    await stack.send([queued("hd-l", "hd-late", "small", T + 3_000)]);
    await stack.drained();
    const asc = await history("hd-l", "asc");
    const late = asc.find((entry) => entry.event_id === "hd-late")?.score as number;
    expect(asc.map((entry) => [entry.event_id, entry.timestamp])).toEqual([
      ["hd-l-1", at(T)],
      ["decay:hot", at(crossing(600, T, 600))],
      ["hd-late", at(T + 3_000)],
      ["decay:warm", at(crossing(late, T + 3_000, 300))],
      ["hd-l-2", at(T + 10_000)],
      ["decay:cold", at(crossing(asc[4]?.score as number, T + 10_000, 100))],
    ]);
    expect(await history("hd-l", "desc", 2)).toEqual([...asc].reverse());
  });

  it("pages the crossings of a history longer than the tail Redis keeps, settled pages included", async () => {
    // 600 every 10 s from two hours ago: each interval leaves qualified, then hot; after the last, warm goes too.
    const from = Date.now() - 7_200_000;
    const events = Array.from({ length: 120 }, (_, i) => queued("hd-long", `long-${i}`, "big", from + i * 10_000));
    await stack.send(events, 40);
    await stack.drained();
    expect((await edge.live.leadWithTail("hd-long"))?.pages.length).toBeGreaterThan(0);
    now = from + 1_300_000;
    try {
      const asc = await history("hd-long", "asc", 200);
      expect(asc.map((entry) => entry.event_id)).toEqual([
        ...events.flatMap((event) => [event.event_id, "decay:hot", "decay:warm"]),
        "decay:cold",
      ]);
      expect(await history("hd-long", "asc", 7)).toEqual(asc);
      expect(await history("hd-long", "desc", 9)).toEqual([...asc].reverse());
    } finally {
      now = T + 60_000;
    }
  });
});
