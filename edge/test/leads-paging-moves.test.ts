// Paging while leads move: a cursor continues strictly after the (value, id) it was issued at, whether or not that
// lead has moved since, so a lead that does not change while a client pages appears exactly once.
import type { ScorableEvent } from "@leadscore/contracts";
import type { LiveReader } from "@leadscore/live";
import { describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { withReadToken } from "../../test-support/index.ts";
import { eventsOf } from "../../test-support/live.ts";
import { createApp } from "../src/app.ts";
import { BASE, historyEvents, nextLink, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

/** `count` ids whose order by id differs from the order they are created in. */
const idsOf = (label: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${label}-${String((i * 7919) % count).padStart(4, "0")}`);

/** Leads scored in one batch: one +5 event each at the same time, so one score, one rank key, one updated_at. */
async function oneBatch(edge: Edge, ids: readonly string[]) {
  await seederFor(edge).seed(ids.map((id) => ({ id, events: eventsOf(id, [5], BASE), updatedAt: BASE })));
}

/** An event for `id` arrives: its score goes from 5 to 10 and its updated_at moves on, as the worker commits it. */
let clock = BASE;
async function eventFor(edge: Edge, id: string) {
  clock += 1000;
  await seederFor(edge).seed([{ id, events: eventsOf(id, [5, 5], BASE), updatedAt: clock }]);
}

/** Follows `Link: rel="next"` from `path`, letting an event arrive for the last lead of each page before the next. */
async function pageWhileMoving(edge: Edge, path: string) {
  const seen: string[] = [];
  const moves = new Map<string, number>();
  let next: string | null = path;
  let pages = 0;
  while (next !== null) {
    const response = await edge.read(next);
    expect(response.status).toBe(200);
    const page = ((await response.json()) as { _id: string }[]).map((lead) => lead._id);
    seen.push(...page);
    next = nextLink(response);
    const last = page.at(-1);
    if (next !== null && last !== undefined) {
      await eventFor(edge, last);
      moves.set(last, (moves.get(last) ?? 0) + 1);
    }
    if (++pages > 100) throw new Error("paging does not end");
  }
  return { seen, moves, pages };
}

function timesSeen(seen: readonly string[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const id of seen) times.set(id, (times.get(id) ?? 0) + 1);
  return times;
}

async function withEdge(run: (edge: Edge) => Promise<void>) {
  const edge = await createTestEdge();
  try {
    await run(edge);
  } finally {
    await edge.close();
  }
}

describe("when an event arrives for the last lead of each page of 300 leads scored in one batch", () => {
  const ids = idsOf("lead", 300);

  // Descending sorts: the moved lead jumps ahead of the cursor, so every lead is seen exactly once.
  for (const query of [
    "sort=-updated_at",
    "sort=-score",
    "stage=cold&sort=-updated_at",
    "min_score=1&sort=-updated_at",
  ]) {
    it(`still lists all 300 exactly once (${query}&limit=10)`, () =>
      withEdge(async (edge) => {
        await oneBatch(edge, ids);
        const { seen, moves, pages } = await pageWhileMoving(edge, `/api/leads?${query}&limit=10`);
        expect(moves.size).toBe(29);
        expect(pages).toBe(30);
        expect(seen).toHaveLength(300);
        expect(new Set(seen)).toEqual(new Set(ids));
      }));
  }

  // Ascending sorts: a moved lead jumps past the cursor and may be listed again; every other lead exactly once.
  for (const query of ["sort=updated_at", "sort=score", "max_score=900&sort=updated_at"]) {
    it(`lists each lead that did not move exactly once (${query}&limit=10)`, () =>
      withEdge(async (edge) => {
        await oneBatch(edge, ids);
        const { seen, moves } = await pageWhileMoving(edge, `/api/leads?${query}&limit=10`);
        expect(moves.size).toBeGreaterThanOrEqual(29);
        const times = timesSeen(seen);
        expect(new Set(times.keys())).toEqual(new Set(ids));
        for (const id of ids) {
          const moved = moves.get(id) ?? 0;
          if (moved === 0) expect(times.get(id), id).toBe(1);
          else expect(times.get(id), id).toBeLessThanOrEqual(moved + 1);
        }
      }));
  }
});

describe("when leads move while the CSV export streams", () => {
  for (const sort of ["-updated_at", "-score", "updated_at"]) {
    it(`has a row for every lead that did not move, exactly once (sort=${sort})`, () =>
      withEdge(async (edge) => {
        const ids = idsOf("row", 1000);
        await oneBatch(edge, ids);
        // Each page after the first is read right after an event for the lead that ended the page before.
        const moves = new Map<string, number>();
        const live: LiveReader = {
          ...edge.deps.live,
          async list(query) {
            if (query.after) {
              await eventFor(edge, query.after.id);
              moves.set(query.after.id, (moves.get(query.after.id) ?? 0) + 1);
            }
            return edge.deps.live.list(query);
          },
        };
        const app = createApp({ ...edge.deps, live });
        const response = await app.request(`/api/leads/export.csv?sort=${sort}`, withReadToken());
        expect(response.status).toBe(200);
        const rows = (await response.text()).trim().split("\r\n").slice(1);
        const times = timesSeen(rows.map((row) => row.split(",")[0] as string));
        // Five pages of 200; ascending, the moved leads come round again at the end.
        if (sort.startsWith("-")) expect(moves.size).toBe(4);
        else expect(moves.size).toBeGreaterThanOrEqual(4);
        expect(new Set(times.keys())).toEqual(new Set(ids));
        for (const id of ids) if (!moves.has(id)) expect(times.get(id), id).toBe(1);
      }));
  }
});

describe("when events arrive late while a client pages through a lead's history", () => {
  const history = historyEvents("long", 160);
  /** A late event, `minute` minutes and 30 s after the first: slotted in before every entry after that minute. */
  const late = (minute: number): ScorableEvent => ({
    ...(history[0] as ScorableEvent),
    event_id: `long-late-${minute}`,
    timestamp: BASE + minute * 60_000 + 30_000,
    received_at: BASE + 10_000 * 60_000,
  });

  /** Pages through `order`, the lead refolded with one more late event (at `lateAt[i]`) after page i. */
  async function pageWithLateEvents(edge: Edge, order: "asc" | "desc", lateAt: number[]) {
    const events = [...history];
    const seen: string[] = [];
    let next: string | null = `/api/leads/long/history?order=${order}&limit=40`;
    for (let page = 0; next !== null; page++) {
      const response = await edge.read(next);
      expect(response.status).toBe(200);
      seen.push(...((await response.json()) as { event_id: string }[]).map((entry) => entry.event_id));
      next = nextLink(response);
      const minute = lateAt[page];
      if (next !== null && minute !== undefined) {
        events.push(late(minute));
        await seederFor(edge).seed([{ id: "long", events }]);
      }
      if (page > 20) throw new Error("paging does not end");
    }
    return seen;
  }

  const ids = history.map((event) => event.event_id);

  it("lists every entry once newest first, and the late ones that fall in pages still to come", () =>
    withEdge(async (edge) => {
      await seederFor(edge).seed([{ id: "long", events: history }]);
      // Each after a page, older than that page's last entry: in the settled pages, then in the tail's range.
      const seen = await pageWithLateEvents(edge, "desc", [50, 30, 10]);
      const want = [...ids.slice(0, 160)];
      want.splice(51, 0, "long-late-50");
      want.splice(31, 0, "long-late-30");
      want.splice(11, 0, "long-late-10");
      expect(seen).toEqual(want.reverse());
    }));

  it("lists every entry once oldest first; a late one behind the cursor is not listed", () =>
    withEdge(async (edge) => {
      await seederFor(edge).seed([{ id: "long", events: history }]);
      // Behind the cursor each time (after page 1 it ends at minute 39, after page 2 at 79, …), then one ahead.
      const seen = await pageWithLateEvents(edge, "asc", [20, 60, 150]);
      const want = [...ids];
      want.splice(151, 0, "long-late-150");
      expect(seen).toEqual(want);
    }));
});
