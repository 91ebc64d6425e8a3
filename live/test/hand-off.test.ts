// A lead merged into a root of another lead partition, taken out of its partition's live state and laid out in its
// root's by the two scripts identity.ts runs (hand-off-merged-22.lua, then import-merged-10.lua): what the merged lead
// held arrives under its id in the root's partition, where the deep lane's merge commit moves it to the root.
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { handOffMerged, importMerged } from "../src/identity.ts";
import { liveKeys } from "../src/keys.ts";

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

/** Two partitions' live states, the merged lead's and its root's, each of its own generation. */
async function twoPartitions() {
  const prefix = uniqueName("hand-off");
  test = await createTestRedis(prefix);
  const [here, there] = [liveKeys(`${prefix}:p0`), liveKeys(`${prefix}:p1`)];
  await test.redis.set(here.gen, "g0");
  await test.redis.set(there.gen, "g1");
  return { redis: test.redis, here, there };
}

describe("a hand-off of a merged lead to its root's partition", () => {
  it("carries the merged lead's re-score log, its own records and those it carried, under its id", async () => {
    const { redis, here, there } = await twoPartitions();
    await redis.hset(here.aliases, "anon", "ada");
    await redis.hset(here.lead("anon"), "s", "40", "n", "2");
    await redis.hset(here.mergeLog("anon"), "anon0", "m0");
    await redis.hset(here.rescoreLog("anon"), "3", "r3", "2:anon0", "r2");

    const handOff = await handOffMerged(redis, here, "g0", "anon", "ada");
    if (typeof handOff === "string") throw new Error(`no hand-off: ${handOff}`);
    expect(await redis.exists(here.lead("anon"), here.mergeLog("anon"), here.rescoreLog("anon"))).toBe(0);
    expect(await importMerged(redis, there, "g1", handOff)).toEqual({ outcome: "ok" });
    expect(await redis.hgetall(there.rescoreLog("anon"))).toEqual({ "3": "r3", "2:anon0": "r2" });
    expect(await redis.hgetall(there.mergeLog("anon"))).toEqual({ anon0: "m0" });
    expect(await redis.hget(there.aliases, "anon")).toBe("ada");
  });

  it("is taken as before when it was stored before hand-offs carried the re-score log", async () => {
    const { redis, there } = await twoPartitions();
    const wire = JSON.stringify({
      n: 1,
      root: "ada",
      lead: ["s", "40"],
      events: {},
      mergedFrom: {},
      mergeLog: {},
      aliases: {},
    });
    expect(await importMerged(redis, there, "g1", { from: "anon", root: "ada", wire })).toEqual({ outcome: "ok" });
    expect(await redis.hgetall(there.lead("anon"))).toEqual({ s: "40" });
    expect(await redis.exists(there.rescoreLog("anon"))).toBe(0);
  });
});
