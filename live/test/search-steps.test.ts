import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS } from "@leadscore/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { liveKeys } from "../src/keys.ts";
import { createLiveSearcher, SEARCH_STEP } from "../src/search-index.ts";

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

describe("when a search matches every lead", () => {
  it("walks the texts in short steps: each script call looks at about SEARCH_STEP entries, never all of them", async () => {
    const prefix = uniqueName("search-steps");
    test = await createTestRedis(prefix);
    const { redis } = test;
    const keys = liveKeys(prefix);
    const leads = 1_000;
    const texts: Record<string, string> = {};
    const scores: (string | number)[] = [];
    for (let i = 0; i < leads; i += 1) {
      texts[`lead-${i}`] = `co\0lead-${i}\0person ${i}\0p${i}@example.com\0co`;
      scores.push(-i, `lead-${i}`);
    }
    await redis.hset(keys.searchTexts, texts);
    await redis.zadd(keys.byScore, ...scores);
    const searcher = createLiveSearcher({
      redis,
      keys,
      cap: DEFAULT_SCORE_CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
    });
    let steps = 0;
    const found = await searcher.matches({ q: "e", sort: "-score" }, 10_000, () => {
      steps += 1;
    });
    expect(found).toHaveLength(leads);
    // Redis runs one script at a time: a step over every text stalls each event's de-duplication claim for as long.
    // About 200 entries a step (SCAN's COUNT is a hint): at least one step per 400 texts.
    expect(SEARCH_STEP).toBeLessThanOrEqual(200);
    expect(steps).toBeGreaterThanOrEqual(Math.ceil(leads / 400));
  });
});
