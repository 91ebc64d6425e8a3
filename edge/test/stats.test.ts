import { ACTIVITY_WINDOW_MS, countActivity } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually } from "../../test-support/index.ts";
import { StatsSchema } from "../src/routes/stats/index.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Stats = { leads: number; events_24h: number; scored_24h: number; dead_letters_24h: number };

describe("GET /api/stats: the last 24 hours", () => {
  let edge: Edge;
  const stats = async (): Promise<Stats> => {
    const response = await edge.read("/api/stats");
    expect(response.status).toBe(200);
    const body = (await response.json()) as Stats;
    expect(() => StatsSchema.parse(body)).not.toThrow();
    return body;
  };

  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("counts the events the edge queued, once each, duplicates left out", async () => {
    const post = (event_id: string) =>
      edge.app.request("/api/events", {
        method: "POST",
        headers: { authorization: "Bearer test-write-key", "content-type": "application/json" },
        body: JSON.stringify({ event_id, lead_id: "counted", event_type: "page_view" }),
      });
    expect((await post("e1")).status).toBe(202);
    expect((await post("e2")).status).toBe(202);
    expect((await post("e1")).status).toBe(200);
    await eventually(async () => (await stats()).events_24h === 2);
  });

  it("counts scored events, and forgets what is older than a day", async () => {
    const prefix = edge.deps.config.REDIS_PREFIX;
    await countActivity(edge.redis, prefix, "scored", 7, Date.now());
    await countActivity(edge.redis, prefix, "scored", 100, Date.now() - ACTIVITY_WINDOW_MS - 60 * 60 * 1000);
    expect((await stats()).scored_24h).toBe(7);
  });

  it("counts the events the store refused, so the dashboard can say so", async () => {
    const prefix = edge.deps.config.REDIS_PREFIX;
    expect((await stats()).dead_letters_24h).toBe(0);
    await countActivity(edge.redis, prefix, "dead_lettered", 2, Date.now());
    await countActivity(edge.redis, prefix, "dead_lettered", 5, Date.now() - ACTIVITY_WINDOW_MS - 60 * 60 * 1000);
    expect((await stats()).dead_letters_24h).toBe(2);
  });
});
