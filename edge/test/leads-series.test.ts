import { DEFAULT_SCORE_CAP, foldScores, type HistoryEntry, type ScorableEvent } from "@leadscore/contracts";
import { PAGE_SIZE } from "@leadscore/live";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventsOf } from "../../test-support/live.ts";
import { type ScoreSeries, ScoreSeriesSchema } from "../src/routes/leads/series.ts";
import { BASE, profileOnlyLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type ErrorBody = { error: { code: string; message: string; details: unknown[] } };

/** `count` events one minute apart whose score climbs by 2 for 400 events, then falls by 2 for 400, and so on. */
function waveEvents(leadId: string, count: number): ScorableEvent[] {
  return eventsOf(
    leadId,
    Array.from({ length: count }, (_, i) => (Math.floor(i / 400) % 2 === 0 ? 2 : -2)),
    BASE,
  );
}

describe("GET /api/leads/:id/series", () => {
  let edge: Edge;
  const events = {
    // 99 pages in MongoDB and 50 entries in the tail.
    long: waveEvents("long", 5000),
    // Four pages and a tail of 50.
    mid: waveEvents("mid", 250),
    short: waveEvents("short", 3),
  };

  async function series(id: string, buckets?: number): Promise<ScoreSeries> {
    const response = await edge.read(`/api/leads/${id}/series${buckets === undefined ? "" : `?buckets=${buckets}`}`);
    expect(response.status, id).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as ScoreSeries;
    expect(() => ScoreSeriesSchema.parse(body)).not.toThrow();
    return body;
  }

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      ...Object.entries(events).map(([id, leadEvents]) => ({ id, events: leadEvents })),
      profileOnlyLead("fresh"),
    ]);
  });
  afterAll(() => edge.close());

  it("takes every entry once, in order, each span exact over its entries and a bucket wide or one page", async () => {
    for (const [id, leadEvents] of Object.entries(events)) {
      const history: HistoryEntry[] = foldScores(leadEvents, DEFAULT_SCORE_CAP).history;
      const start = (history[0] as HistoryEntry).timestamp;
      const end = (history.at(-1) as HistoryEntry).timestamp;
      for (const buckets of [1, 7, 64, 600, 2000]) {
        const { spans } = await series(id, buckets);
        const width = (end - start) / buckets;
        let next = 0;
        for (const span of spans) {
          const run = history.slice(next, next + span.entries);
          next += span.entries;
          const scores = run.map((entry) => entry.score);
          expect(span, `${id} ${buckets}`).toEqual({
            from: new Date((run[0] as HistoryEntry).timestamp).toISOString(),
            to: new Date((run.at(-1) as HistoryEntry).timestamp).toISOString(),
            first: scores[0],
            last: scores.at(-1),
            min: Math.min(...scores),
            max: Math.max(...scores),
            entries: run.length,
          });
          const [from, to] = [Date.parse(span.from), Date.parse(span.to)];
          // A run of spans that start in one bucket ends before the next bucket ends; only a page can be wider.
          if (to - from >= 2 * width) expect(span.entries, `${id} ${buckets}`).toBe(PAGE_SIZE);
        }
        expect(next, `${id} ${buckets}`).toBe(history.length);
      }
    }
  });

  it("has one span per bucket where the entries allow, so its size follows the chart, not the history", async () => {
    const wide = await series("long", 2000);
    const narrow = await series("long", 64);
    // 5,000 entries a minute apart, 2.5 minutes a bucket: each of the 99 pages (50 minutes) is one span, the tail's
    // 50 entries fall in 20 buckets.
    expect(wide.spans.length).toBe(99 + 20);
    expect(narrow.spans.length).toBe(64);
    // The wave's peaks and troughs show whatever the resolution: its first peak is 800 (400 × 2), then 0.
    expect(Math.max(...narrow.spans.map((span) => span.max))).toBe(800);
    expect(Math.min(...narrow.spans.slice(1).map((span) => span.min))).toBe(0);
  });

  it("shows every event of a lead whose history fits in its tail, and the stage thresholds", async () => {
    expect(await series("short")).toEqual({
      buckets: 600,
      spans: [0, 1, 2].map((minute) => {
        const at = new Date(BASE + minute * 60_000).toISOString();
        const score = 2 * (minute + 1);
        return { from: at, to: at, first: score, last: score, min: score, max: score, entries: 1 };
      }),
      thresholds: { warm: 100, hot: 300, qualified: 600 },
    });
  });

  it("has no spans for a lead without scored events", async () => {
    expect((await series("fresh")).spans).toEqual([]);
  });

  it("refuses a number of buckets out of range", async () => {
    for (const buckets of ["0", "2001", "x"]) {
      const response = await edge.read(`/api/leads/short/series?buckets=${buckets}`);
      expect(response.status, buckets).toBe(400);
      expect(((await response.json()) as ErrorBody).error.code).toBe("VALIDATION_FAILED");
    }
  });

  it("answers 404 in the error shape for a lead without live state", async () => {
    const response = await edge.read("/api/leads/nobody/series");
    expect(response.status).toBe(404);
    const body = (await response.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: "NOT_FOUND", details: [] });
  });

  it("answers 400 for an id that is not a lead id", async () => {
    const response = await edge.read("/api/leads/a%2Fb/series");
    expect(response.status).toBe(400);
    expect(((await response.json()) as ErrorBody).error.code).toBe("VALIDATION_FAILED");
  });

  it("needs a read token", async () => {
    const response = await edge.app.request("/api/leads/short/series");
    expect(response.status).toBe(401);
    expect(((await response.json()) as ErrorBody).error.code).toBe("UNAUTHORIZED");
  });
});
