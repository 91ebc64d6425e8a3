// The search texts are live state: the rebuild writes them from MongoDB's profiles and edits, as the profile writes
// did, so a search finds the same leads before and after it.
import {
  COLLECTIONS,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type ProfileEditDocument,
} from "@leadscore/contracts";
import { createLiveSearcher, searchText } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import { createLiveSeeder, eventsOf } from "../../test-support/live.ts";
import { rebuildLiveState } from "../src/rebuild.ts";

describe("when the live state is rebuilt", () => {
  const prefix = uniqueName("search-texts");
  let testDb: Awaited<ReturnType<typeof createTestDb>>;
  let testRedis: Awaited<ReturnType<typeof createTestRedis>>;
  const T = Date.parse("2026-01-01T00:00:00.000Z");

  beforeAll(async () => {
    testDb = await createTestDb();
    testRedis = await createTestRedis(prefix);
    await createLiveSeeder({ redis: testRedis.redis, db: testDb.db, redisPrefix: prefix }).seed([
      { id: "ana", profile: { name: "Ana Silva", email: "ana@example.pt", company: "Müller AG" } },
      { id: "bo", profile: { name: "Bo", email: "bo@example.com", company: "Acme" }, events: eventsOf("bo", [50], T) },
      { id: "visitor-7", events: eventsOf("visitor-7", [5], T) },
    ]);
    // An edit MongoDB holds that the live state missed (a crash before its second write): the rebuild takes it.
    await testDb.db.collection<ProfileEditDocument>(COLLECTIONS.profileEdits).insertOne({
      _id: "edit-1",
      lead_id: "bo",
      name: "Bo Novak",
      email: "bo@novak.example",
      company: null,
      at: new Date(Date.now() + 60_000),
    });
  });
  afterAll(async () => {
    await testRedis.cleanup();
    await testDb.drop();
  });

  it("writes every profiled lead's search text from MongoDB's profiles and their newest edits", async () => {
    const { redis } = testRedis;
    const seeder = createLiveSeeder({ redis, db: testDb.db, redisPrefix: prefix });
    const { keys } = seeder;
    const searcher = createLiveSearcher({
      redis,
      keys,
      cap: DEFAULT_SCORE_CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
    });
    const ids = async (q: string) =>
      (await searcher.matches({ q, sort: "-score" }, 100)).map((match) => match.id).sort();
    expect(await ids("novak")).toEqual([]);
    expect(await ids("muller")).toEqual(["ana"]);
    // A lead without a profile has no text: its id is searched in the score index.
    expect(await redis.hexists(keys.searchTexts, "visitor-7")).toBe(0);
    expect(await ids("visitor")).toEqual(["visitor-7"]);

    // (The seeder stores no events in MongoDB: the rebuilt live state has the profiled leads only.)
    const options = { redis, keys, cap: DEFAULT_SCORE_CAP, thresholds: DEFAULT_STAGE_THRESHOLDS, log: silentLogger };
    await rebuildLiveState({ ...options, db: testDb.db });
    expect(await redis.hgetall(keys.searchTexts)).toEqual({
      ana: searchText("ana", { name: "Ana Silva", email: "ana@example.pt", company: "Müller AG" }),
      bo: searchText("bo", { name: "Bo Novak", email: "bo@novak.example", company: null }),
    });
    expect(await ids("novak")).toEqual(["bo"]);
    expect(await ids("muller")).toEqual(["ana"]);
    expect(await ids("example")).toEqual(["ana", "bo"]);
  });
});
