import { createLogger } from "@leadscore/runtime";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { fixedPort, withReadToken } from "../../test-support/index.ts";
import { createApp } from "../src/app.ts";
import { BASE, historyEvents, nextLink, scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

describe("when MongoDB cannot answer at all", () => {
  let edge: Edge;
  let deadClient: MongoClient;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("ana", 650),
      scoredLead("bo", 320, { at: BASE + 1000 }),
      scoredLead("cy", 120),
      scoredLead("di", 150),
      // 160 entries: the newest 60 in the Redis tail, the oldest 100 in two pages in MongoDB.
      { id: "deep", events: historyEvents("deep", 160) },
    ]);
    // Nothing listens there: any query would fail after the server selection timeout.
    deadClient = new MongoClient(`mongodb://127.0.0.1:${await fixedPort()}/nowhere`, {
      serverSelectionTimeoutMS: 300,
    });
    app = createApp({ ...edge.deps, db: deadClient.db("nowhere"), log: createLogger("edge-test", "error") });
  });
  afterAll(async () => {
    await deadClient.close();
    await edge.close();
  });

  const ok = async (path: string) => {
    const response = await app.request(path, withReadToken());
    expect(response.status, path).toBe(200);
    return response;
  };

  it("still serves the leaderboard, lists, a lead with its rank, stats, a history's first page and a score series", async () => {
    expect(((await (await ok("/api/leads/leaderboard")).json()) as { _id: string }[]).map((lead) => lead._id)).toEqual([
      "deep",
      "ana",
      "bo",
      "di",
      "cy",
    ]);
    for (const query of [
      "",
      "?stage=warm",
      "?sort=-updated_at",
      "?min_score=100&sort=updated_at",
      "?sort=score",
      "?sort=-last_event_at",
    ]) {
      const next = nextLink(await ok(`/api/leads${query}${query ? "&" : "?"}limit=1`));
      expect(next, query).not.toBeNull();
      await ok(next as string);
    }
    expect(await (await ok("/api/leads/bo")).json()).toMatchObject({ current_score: 320, rank: 3, rank_of: 5 });
    await ok("/api/stats");
    const history = (await (await ok("/api/leads/deep/history")).json()) as { event_id: string }[];
    expect(history[0]?.event_id).toBe("deep-e0159");
    await ok("/api/leads/deep/history?order=desc&limit=60");
    const series = (await (await ok("/api/leads/deep/series")).json()) as {
      spans: { last: number; entries: number }[];
    };
    expect(series.spans.at(-1)?.last).toBe(800);
    expect(series.spans.reduce((sum, span) => sum + span.entries, 0)).toBe(160);
  });

  it("searches profiles and ids in Redis alone", async () => {
    const ids = async (query: string) =>
      ((await (await ok(`/api/leads?${query}`)).json()) as { _id: string }[]).map((lead) => lead._id);
    expect(await ids("q=ana")).toEqual(["ana"]);
    expect(await ids("q=example.com&stage=warm")).toEqual(["di", "cy"]);
    expect(await ids("company=acme&sort=score")).toEqual(["cy", "di", "bo", "ana"]);
    expect(await ids("q=dee")).toEqual(["deep"]);
  });

  it("answers 503 only for the reads that do go to MongoDB: older history", async () => {
    const response = await app.request("/api/leads/deep/history?limit=61", withReadToken());
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");
  });
});
