import { COLLECTIONS, DEFAULT_RULES } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { defaultRulesSeeded, seedDefaultRules } from "../src/default-rules.ts";
import { readRuleSet, readRulesVersion } from "../src/rule-store.ts";
import { readRuleSetVersion } from "../src/rule-versions.ts";

describe("when several processes seed the default rules at once", () => {
  it("every one of them finishes, and the rules and the marker are there once", async () => {
    for (let round = 0; round < 5; round += 1) {
      const { db, drop } = await createTestDb();
      try {
        const seeds = await Promise.allSettled(Array.from({ length: 8 }, () => seedDefaultRules(db)));
        expect(seeds.filter((seed) => seed.status === "rejected")).toEqual([]);
        expect(await defaultRulesSeeded(db)).toBe(true);
        expect(await db.collection(COLLECTIONS.meta).countDocuments({})).toBe(2);
        expect(await db.collection(COLLECTIONS.ruleSets).countDocuments({})).toBe(1);
      } finally {
        await drop();
      }
    }
  });
});

describe("when the default rules are seeded", () => {
  it("stores them as version 1, so the first change can be rolled back to them", async () => {
    const { db, drop } = await createTestDb();
    try {
      await seedDefaultRules(db);
      expect(await readRulesVersion(db)).toBe(1);
      const seeded = await readRuleSetVersion(db, 1);
      expect(seeded?.summary.published_by).toBe("seed");
      expect(seeded?.set.rules.map((rule) => [rule.event_type, rule.points]).sort()).toEqual(
        DEFAULT_RULES.map((rule) => [rule.event_type, rule.points]).sort(),
      );
      expect((await readRuleSet(db)).version).toBe(1);
    } finally {
      await drop();
    }
  });
});
