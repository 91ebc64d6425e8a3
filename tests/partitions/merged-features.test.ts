// Decay, idle leads and re-scores over lead partitions: a read is answered at one instant for every partition, and a
// retroactive publish, whose re-score walks one layout, is refused before anything is published.
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { createPartitionedReader } from "@leadscore/live";
import { createMissingIndexes, createRedis, partitionPrefixes, silentLogger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  REDIS_URL,
  TEST_READ_TOKEN,
  testEdgeConfig,
  uniqueName,
  withReadToken,
} from "../../test-support/index.ts";

describe("a read over six lead partitions with decay", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
  });
  afterAll(() => redis?.disconnect());

  it("takes the instant once and hands it to every partition's ranges, counts and scores", async () => {
    let asked = 0;
    const live = createPartitionedReader({
      redis,
      redisPrefix: uniqueName("instant"),
      partitions: 6,
      cap: 1000,
      thresholds: [100, 300, 600],
      halfLife: () => 86_400,
      now: () => {
        asked += 1;
        return Date.parse("2026-03-01T12:00:00.000Z") + asked * 86_400_000;
      },
    });
    const reads: [string, () => Promise<unknown>][] = [
      ["list", () => live.list({ sort: "score", limit: 10, minScore: 50, stage: "warm" })],
      ["listPositions", () => live.listPositions({ sort: "-updated_at", limit: 10, maxScore: 500 })],
      ["countByStage", () => live.countByStage()],
      ["histogram", () => live.histogram(100)],
      ["leaderboard", () => live.leaderboard(5)],
    ];
    for (const [name, read] of reads) {
      asked = 0;
      await read();
      expect(asked, name).toBe(1);
    }
    asked = 0;
    await live.list({ sort: "score", limit: 10, at: Date.now() });
    expect(asked).toBe(0);
  });
});

describe("a retroactive publish over six lead partitions", () => {
  const prefix = uniqueName("republish");
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  const send = (path: string, body?: unknown) =>
    edge.app.request(path, {
      method: "POST",
      headers: admin,
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    database = await createTestDb();
    const env = {
      REDIS_PREFIX: prefix,
      MONGO_URL: database.url,
      ADMIN_TOKEN: "test-admin-token",
      READ_TOKENS: TEST_READ_TOKEN,
      LEAD_PARTITIONS: "6",
    };
    edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
    await createMissingIndexes(edge.deps.db, silentLogger);
  });
  afterAll(async () => {
    await edge?.close();
    for (const each of [prefix, ...partitionPrefixes(prefix, 6)]) await (await createTestRedis(each)).cleanup();
    await database?.drop();
  });

  it("is refused with 409 before a version is published; a forward publish goes through", async () => {
    expect((await send("/api/rule-sets/draft")).status).toBe(201);
    const fromDraft = async () =>
      ((await (await edge.app.request("/api/rule-sets", withReadToken())).json()) as { source: string }[]).filter(
        (version) => version.source === "draft",
      ).length;
    const refused = await send("/api/rule-sets/draft/publish", { mode: "retroactive" });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("CONFLICT");
    expect(await fromDraft()).toBe(0);
    expect((await send("/api/rule-sets/draft/publish", { mode: "forward" })).status).toBe(200);
    expect(await fromDraft()).toBe(1);
  });
});
