// A commit that lands after the ticker's turn whose interval held the lead's new crossing: the worker filed the lead
// under the stage of the instant it planned the commit, and the turn read the lead's old key. The next turn must still
// commit the crossing, however late, rather than leave the lead in a stage it has left for good.
import { crossingInstant, DEFAULT_STAGE_THRESHOLDS, decayKey } from "@leadscore/contracts";
import { decayRankKey, encodeLeadHash, liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, type TestStack } from "../../test-support/worker-stack.ts";
import { createDecayTicker } from "../src/decay-ticker.ts";

const H = 5;

let stack: TestStack;
let redis: Redis;

beforeAll(async () => {
  stack = await createStack();
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe("when a lead's commit lands after the turn that covered its crossing", () => {
  it("commits the crossing at the next turn", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const now = Date.now();
    const at = now - 1_000;
    // 320 a second ago: warm since 466 ms after its event, yet filed hot by a commit planned before that.
    await redis.hset(
      keys.lead("late-commit"),
      encodeLeadHash({ version: "1", score: "320", stage: "hot", lastEventAt: String(at) }),
    );
    await redis.zadd(keys.byScore, decayRankKey(320, at, H), "late-commit");
    await redis.zadd(keys.byUpdated, now, "late-commit");
    await redis.zadd(keys.byUpdatedIn("hot"), now, "late-commit");
    // The turn that covered the crossing instant has been and gone.
    await redis.set(keys.decayThrough, String(now - 100));
    const ticker = createDecayTicker({
      redis,
      keys,
      cap: stack.config.SCORE_CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
      halfLife: () => H,
      encodeUpdates: () => new Map(),
      log: silentLogger,
    });
    expect(await ticker.tick()).toBe(1);
    expect(await redis.hget(keys.lead("late-commit"), "st")).toBe("warm");
    expect(await redis.zscore(keys.byUpdatedIn("warm"), "late-commit")).not.toBeNull();
    expect(crossingInstant(decayKey(320, at, H), 300, at, H)).toBe(at + 466);
  });
});
