import { COLLECTIONS } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { defaultRulesSeeded, seedDefaultRules } from "../src/default-rules.ts";

describe("when several processes seed the default rules at once", () => {
  it("every one of them finishes, and the rules and the marker are there once", async () => {
    for (let round = 0; round < 5; round += 1) {
      const { db, drop } = await createTestDb();
      try {
        const seeds = await Promise.allSettled(Array.from({ length: 8 }, () => seedDefaultRules(db)));
        expect(seeds.filter((seed) => seed.status === "rejected")).toEqual([]);
        expect(await defaultRulesSeeded(db)).toBe(true);
        expect(await db.collection(COLLECTIONS.meta).countDocuments({})).toBe(1);
      } finally {
        await drop();
      }
    }
  });
});
