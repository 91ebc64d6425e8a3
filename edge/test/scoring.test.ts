// GET/PUT /api/scoring over a running worker: the half-life reaches the worker and the edge's reads, and a change
// re-keys the score index online (keys and stage indexes as a commit under the new half-life would have written them).
import { stageFor } from "@leadscore/contracts";
import { decayRankKey, liveKeys, rankKey } from "@leadscore/live";
import { scoringSettingsKey } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";

let stack: TestStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;
let redis: Redis;

beforeAll(async () => {
  stack = await createStack();
  await stack.startWorker({ rulesReloadMs: 3_600_000 });
  edge = await createDecayEdge(stack);
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  edge?.close();
  await stack?.close();
});

describe("the scoring settings", () => {
  it("start without decay and refuse a half-life below a second or a body with other fields", async () => {
    expect(await (await edge.read("/api/scoring")).json()).toEqual({
      half_life_seconds: null,
      stage_thresholds: [100, 300, 600],
    });
    for (const body of [{ half_life_seconds: 0.5 }, { half_life_seconds: "5" }, { half_life_seconds: 5, x: 1 }, {}]) {
      const response = await edge.send("PUT", "/api/scoring", body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    }
    const reader = await edge.app.request("/api/scoring", {
      method: "PUT",
      headers: { authorization: "Bearer test-read-token", "content-type": "application/json" },
      body: JSON.stringify({ half_life_seconds: 5 }),
    });
    expect([401, 403]).toContain(reader.status);
  });

  it("re-keys every lead when decay is turned on, reaches the worker, and re-keys back when turned off", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const at = Date.now() - 20_000;
    await stack.send([
      queued("s-a", "a1", "big", at),
      queued("s-b", "b1", "small", at),
      queued("s-b", "b2", "small", at + 1),
      queued("s-b", "b3", "small", at + 2),
      queued("s-b", "b4", "small", at + 3),
    ]);
    await stack.drained();
    expect(await redis.zscore(keys.byUpdatedIn("hot"), "s-b")).not.toBeNull();

    const on = await edge.send("PUT", "/api/scoring", { half_life_seconds: 20 });
    expect(on.status).toBe(200);
    expect(await on.json()).toMatchObject({ half_life_seconds: 20, rekeyed_leads: await redis.zcard(keys.byScore) });
    expect(await (await edge.read("/api/scoring")).json()).toMatchObject({ half_life_seconds: 20 });
    // Copied into Redis for the realtime tier, which reads no MongoDB.
    expect(JSON.parse((await redis.get(scoringSettingsKey(stack.config.REDIS_PREFIX))) ?? "null")).toEqual({
      half_life_seconds: 20,
    });
    expect(Number(await redis.zscore(keys.byScore, "s-a"))).toBe(decayRankKey(600, at, 20));
    expect(Number(await redis.zscore(keys.byScore, "s-b"))).toBe(decayRankKey(400, at + 3, 20));
    // 400 twenty seconds ago is about 200 now: filed as warm, read as warm.
    expect(await redis.hget(keys.lead("s-b"), "st")).toBe("warm");
    expect(await redis.zscore(keys.byUpdatedIn("hot"), "s-b")).toBeNull();
    expect(await redis.zscore(keys.byUpdatedIn("warm"), "s-b")).not.toBeNull();
    const listed = (await (await edge.read("/api/leads?stage=warm")).json()) as { _id: string }[];
    expect(listed.map((lead) => lead._id)).toContain("s-b");

    // The worker folds the next event with the half-life (it reloads on the channel, as after a rule change).
    await eventually(async () => {
      const next = Date.now();
      await stack.send([queued("s-c", `c-${next}`, "big", next - 10_000), queued("s-c", `d-${next}`, "small", next)]);
      await stack.drained();
      const score = Number(await redis.hget(keys.lead("s-c"), "s"));
      return score !== 700 && score > 0;
    });

    const off = await edge.send("PUT", "/api/scoring", { half_life_seconds: null });
    expect(await off.json()).toMatchObject({ half_life_seconds: null, rekeyed_leads: await redis.zcard(keys.byScore) });
    expect(Number(await redis.zscore(keys.byScore, "s-b"))).toBe(rankKey(400, at + 3, stack.config.SCORE_CAP));
    expect(await redis.hget(keys.lead("s-b"), "st")).toBe(stageFor(400));
    expect(await redis.zscore(keys.byUpdatedIn("hot"), "s-b")).not.toBeNull();
  });

  it("gives a lead's score and stage at a past or future instant, at most a year ahead", async () => {
    const at = Date.now() - 1_000;
    await stack.send([queued("s-d", "d1", "big", at - 60_000), queued("s-d", "d2", "small", at)]);
    await stack.drained();
    const scoreAt = async (t: number) => {
      const response = await edge.read(`/api/leads/s-d?as_of=${new Date(t).toISOString()}`);
      expect(response.status).toBe(200);
      return (await response.json()) as { current_score: number; stage: string; as_of: string };
    };
    expect(await scoreAt(at - 30_000)).toMatchObject({ current_score: 600, stage: "qualified" });
    expect(await scoreAt(at)).toMatchObject({ current_score: 700, stage: "qualified" });
    expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: 60 })).status).toBe(200);
    expect(await scoreAt(at - 30_000)).toMatchObject({ current_score: 600 * 2 ** -0.5, stage: "hot" });
    expect(await scoreAt(at + 120_000)).toMatchObject({ current_score: 175, stage: "warm" });
    expect(await scoreAt(at + 360_000)).toMatchObject({ current_score: 700 / 64, stage: "cold" });
    const far = await edge.read(`/api/leads/s-d?as_of=${new Date(Date.now() + 400 * 86_400_000).toISOString()}`);
    expect(far.status).toBe(400);
    expect((await edge.read("/api/leads/s-d?as_of=yesterday")).status).toBe(400);
    expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: null })).status).toBe(200);
  });

  it("answers an unchanged half-life without re-keying", async () => {
    const current = (await (await edge.read("/api/scoring")).json()) as { half_life_seconds: number | null };
    const same = await edge.send("PUT", "/api/scoring", current);
    expect(await same.json()).toEqual({ ...current, rekeyed_leads: 0, rekey_ms: 0 });
  });
});
