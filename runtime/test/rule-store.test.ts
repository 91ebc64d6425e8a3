import { COLLECTIONS, RULES_VERSION, type RuleSet, type RuleSetDocument } from "@leadscore/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import {
  createLock,
  createRule,
  createRuleGroup,
  deleteRuleGroup,
  type RuleStore,
  RuleWriteError,
  readRuleSet,
  readRulesVersion,
  rulesWriteLockKey,
  updateRule,
} from "../src/index.ts";

describe("the rule store's writes", () => {
  let store: RuleStore;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const prefix = uniqueName("rule-store");
    const testDb = await createTestDb();
    const testRedis = await createTestRedis(prefix);
    store = {
      db: testDb.db,
      redis: testRedis.redis,
      redisPrefix: prefix,
      now: () => Date.parse("2026-03-01T00:00:00Z"),
    };
    cleanup = async () => {
      await testRedis.cleanup();
      await testDb.drop();
    };
  });
  afterAll(() => cleanup());
  beforeEach(async () => {
    for (const name of [COLLECTIONS.rules, COLLECTIONS.ruleGroups, COLLECTIONS.ruleSets, COLLECTIONS.meta]) {
      await store.db.collection(name).deleteMany({});
    }
  });
  const refusal = (write: Promise<unknown>) =>
    write.then(
      () => null,
      (error: unknown) => (error instanceof RuleWriteError ? error : Promise.reject(error)),
    );

  it("builds the first version from the collections as they are, seeded or written by older tooling", async () => {
    const at = new Date();
    await store.db.collection(COLLECTIONS.rules).insertOne({
      _id: "purchase" as never,
      event_type: "purchase",
      points: 100,
      active: true,
      label: "Purchase",
      created_at: at,
      updated_at: at,
    });
    expect(await readRuleSet(store.db)).toMatchObject({ version: 0, rules: [{ _id: "purchase" }] });
    const { version } = await createRule(store, { event_type: "page_view", points: 5, active: true });
    expect(version).toBe(1);
    const set = await readRuleSet(store.db);
    expect(set.version).toBe(1);
    expect(set.rules.map((rule) => rule._id)).toEqual(["purchase", "page_view"]);
  });

  it("makes the version after one a writer stored without moving the pointer", async () => {
    await createRule(store, { event_type: "page_view", points: 5, active: true });
    // As a writer that stopped between storing version 2 and moving the pointer left it.
    const orphan: RuleSet = { version: 2, rules: [], groups: [] };
    await store.db
      .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
      .insertOne({ _id: 2, set: JSON.stringify(orphan), by: "admin", at: new Date() });
    expect(await readRulesVersion(store.db)).toBe(1);
    const { version } = await updateRule(store, "page_view", { points: 6 });
    expect(version).toBe(3);
    expect(await readRuleSet(store.db)).toMatchObject({ version: 3, rules: [{ _id: "page_view", points: 6 }] });
  });

  it("refuses a write whose rule set would be invalid and changes nothing", async () => {
    const error = await refusal(createRule(store, { event_type: "page_view", points: 5, active: true, group: "x" }));
    expect(error?.code).toBe("VALIDATION_FAILED");
    expect(error?.details).toEqual([{ path: "group", message: "names no group of this rule set" }]);
    expect(await store.db.collection(COLLECTIONS.rules).countDocuments()).toBe(0);
    expect(await store.db.collection(COLLECTIONS.ruleSets).countDocuments()).toBe(0);
    expect(await store.db.collection(COLLECTIONS.meta).findOne({ _id: RULES_VERSION as never })).toBeNull();
  });

  it("names another rule's problem by its place in the set and its id", async () => {
    const at = new Date();
    await store.db.collection(COLLECTIONS.rules).insertOne({
      _id: "legacy" as never,
      event_type: "Legacy Type",
      points: 1,
      active: true,
      label: "L",
      created_at: at,
      updated_at: at,
    });
    const error = await refusal(createRule(store, { event_type: "page_view", points: 5, active: true }));
    expect(error?.details).toEqual([{ path: "rules[0].event_type", message: expect.stringMatching(/^legacy: /) }]);
  });

  it("answers that the store is busy when another write holds the lock past the wait", async () => {
    const holder = createLock({ redis: store.redis, key: rulesWriteLockKey(store.redisPrefix), ttlMs: 5_000 });
    expect(await holder.acquire()).not.toBeNull();
    try {
      const error = await refusal(createRuleGroup({ ...store, lockWaitMs: 150 }, { label: "Web", max: 10 }));
      expect(error?.code).toBe("SERVICE_UNAVAILABLE");
    } finally {
      await holder.release();
    }
    // Released, the lock serves the next write.
    expect((await createRuleGroup(store, { _id: "web", label: "Web", max: 10 })).version).toBe(1);
    expect((await deleteRuleGroup(store, "web")).version).toBe(2);
  });
});
