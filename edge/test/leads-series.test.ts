import { DEFAULT_SCORE_CAP, foldScores, type ScorableEvent } from "@leadscore/contracts";
import { PAGE_SIZE, SERIES_PAGE_POINTS, TAIL_SPILL_AT } from "@leadscore/live";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventsOf } from "../../test-support/live.ts";
import { ScoreSeriesSchema } from "../src/routes/leads/series.ts";
import { BASE, profileOnlyLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Series = { points: { timestamp: string; score: number }[] };
type ErrorBody = { error: { code: string; message: string; details: unknown[] } };

const MAX_POINTS = SERIES_PAGE_POINTS + TAIL_SPILL_AT;

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
    // 99 pages in MongoDB, more than SERIES_PAGE_POINTS, so only every other page end is kept; 50 in the tail.
    long: waveEvents("long", 5000),
    // Four pages and a tail of 50: every page end is kept.
    mid: waveEvents("mid", 250),
    short: waveEvents("short", 3),
  };

  /** The lead's score after each event, by event time in ms, as the fold computes it. */
  const scoresAt = (leadEvents: ScorableEvent[]) =>
    new Map(foldScores(leadEvents, DEFAULT_SCORE_CAP).history.map((entry) => [entry.timestamp, entry.score]));

  async function series(id: string): Promise<Series> {
    const response = await edge.read(`/api/leads/${id}/series`);
    expect(response.status, id).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Series;
    expect(() => ScoreSeriesSchema.parse(body)).not.toThrow();
    return body;
  }

  async function currentLead(id: string): Promise<{ current_score: number; last_event_at: string | null }> {
    return (await (await edge.read(`/api/leads/${id}`)).json()) as { current_score: number; last_event_at: string };
  }

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      ...Object.entries(events).map(([id, leadEvents]) => ({ id, events: leadEvents })),
      profileOnlyLead("fresh"),
    ]);
  });
  afterAll(() => edge.close());

  it("ends at the lead's current score and newest event", async () => {
    for (const id of Object.keys(events)) {
      const { points } = await series(id);
      const lead = await currentLead(id);
      expect(points.at(-1), id).toEqual({ timestamp: lead.last_event_at, score: lead.current_score });
    }
  });

  it("runs oldest first, each point the score the fold reached at that time", async () => {
    for (const [id, leadEvents] of Object.entries(events)) {
      const { points } = await series(id);
      const times = points.map((point) => Date.parse(point.timestamp));
      expect(times, id).toEqual([...times].sort((a, b) => a - b));
      const scores = scoresAt(leadEvents);
      for (const point of points) {
        expect(point.score, `${id} ${point.timestamp}`).toBe(scores.get(Date.parse(point.timestamp)));
      }
    }
  });

  it("shows every event of a lead whose history fits in its tail", async () => {
    const { points } = await series("short");
    expect(points).toEqual([
      { timestamp: "2026-01-01T00:00:00.000Z", score: 2 },
      { timestamp: "2026-01-01T00:01:00.000Z", score: 4 },
      { timestamp: "2026-01-01T00:02:00.000Z", score: 6 },
    ]);
  });

  it("spans a paged history from its first event, with the end of each page, then each event of the tail", async () => {
    const { points } = await series("mid");
    const pageEnds = [1, 2, 3, 4].map((page) => events.mid[page * PAGE_SIZE - 1] as ScorableEvent);
    const tail = events.mid.slice(4 * PAGE_SIZE);
    expect(points.map((point) => Date.parse(point.timestamp))).toEqual(
      [events.mid[0] as ScorableEvent, ...pageEnds, ...tail].map((event) => event.timestamp),
    );
  });

  it("stays bounded however long the history, yet still starts at its beginning", async () => {
    const { points } = await series("long");
    expect(points.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(points.length).toBeGreaterThan(TAIL_SPILL_AT - 1);
    const times = points.map((point) => Date.parse(point.timestamp));
    const oneMinute = 60_000;
    // It starts at the first event; no two points are more than two pages apart.
    expect(times[0]).toBe(BASE);
    for (let i = 1; i < times.length; i += 1) {
      expect(((times[i] as number) - (times[i - 1] as number)) / oneMinute).toBeLessThanOrEqual(2 * PAGE_SIZE);
    }
    // The wave's peaks and troughs show: the chart is not a flat line.
    const scores = points.map((point) => point.score);
    expect(Math.max(...scores)).toBeGreaterThanOrEqual(700);
    expect(Math.min(...scores.slice(0, 20))).toBeLessThanOrEqual(100);
  });

  it("has no points for a lead without scored events", async () => {
    expect(await series("fresh")).toEqual({ points: [] });
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
