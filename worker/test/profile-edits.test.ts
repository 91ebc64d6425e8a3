import { COLLECTIONS, DEFAULT_SCORE_CAP } from "@leadscore/contracts";
import { createLiveReader, liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import { rebuildLiveState } from "../src/rebuild.ts";

describe("when the live state is rebuilt after profile edits", () => {
  const prefix = uniqueName("edits");
  let db: Awaited<ReturnType<typeof createTestDb>>;
  let redis: Awaited<ReturnType<typeof createTestRedis>>;
  const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1, 0, minutes));

  beforeAll(async () => {
    db = await createTestDb();
    redis = await createTestRedis(prefix);
    await db.db
      .collection(COLLECTIONS.leads)
      .insertMany([
        { _id: "edited", name: "First", email: "first@x.io", company: "One", created_at: at(0) } as never,
        { _id: "late-profile", name: "Created", email: "c@x.io", company: "Later", created_at: at(30) } as never,
      ]);
    await db.db.collection(COLLECTIONS.profileEdits).insertMany([
      { _id: "e2", lead_id: "edited", name: "Third", email: "third@x.io", company: "Three", at: at(20) },
      { _id: "e1", lead_id: "edited", name: "Second", email: "second@x.io", company: "Two", at: at(10) },
      { _id: "e3", lead_id: "late-profile", name: "Edit", email: "e@x.io", company: "Earlier", at: at(5) },
    ] as never[]);
  });
  afterAll(async () => {
    await redis.cleanup();
    await db.drop();
  });

  it("takes each lead's newest profile, its document or an edit", async () => {
    const thresholds = [100, 300, 600] as const;
    const options = { redis: redis.redis, keys: liveKeys(prefix), cap: DEFAULT_SCORE_CAP, thresholds };
    await rebuildLiveState({ ...options, db: db.db, log: silentLogger });
    const reader = createLiveReader({ ...options, redisPrefix: prefix });
    expect(await reader.lead("edited")).toMatchObject({ name: "Third", email: "third@x.io", company: "Three" });
    expect(await reader.lead("late-profile")).toMatchObject({ name: "Created", company: "Later" });
  });
});
