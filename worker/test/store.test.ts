import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { insertNew, insertReporting } from "../src/store.ts";

let testDb: Awaited<ReturnType<typeof createTestDb>>;

beforeAll(async () => {
  testDb = await createTestDb();
});

afterAll(async () => {
  await testDb?.drop();
});

describe("inserting documents the store may refuse", () => {
  it("stores the others, and tells stored ids apart from refused documents", async () => {
    const collection = testDb.db.collection<{ _id: string; m: unknown }>("reporting");
    await collection.insertOne({ _id: "taken", m: 0 });
    const outcome = await insertReporting(collection, [
      { _id: "taken", m: 1 },
      { _id: "ok-1", m: 1 },
      { _id: "nested", m: [[1]] },
      { _id: "nul-key", m: { "a\u0000b": 1 } },
      { _id: "ok-2", m: [1, { a: [2] }] },
    ]);
    expect([...outcome.existing]).toEqual([0]);
    expect([...outcome.refused.keys()].sort()).toEqual([2, 3]);
    expect(outcome.refused.get(2)).toMatch(/nested arrays are not supported/);
    expect(outcome.refused.get(3)).toBe("key a\u0000b must not contain null bytes");
    const stored = await collection.find({}, { sort: { _id: 1 } }).toArray();
    expect(stored).toEqual([
      { _id: "ok-1", m: 1 },
      { _id: "ok-2", m: [1, { a: [2] }] },
      { _id: "taken", m: 0 },
    ]);
  });

  it("throws, for documents the worker builds itself, when the store refuses one", async () => {
    const collection = testDb.db.collection<{ _id: string; m: unknown }>("pages");
    await expect(insertNew(collection, [{ _id: "p", m: [[1]] }])).rejects.toThrow(/refused 1 of 1 documents/);
  });
});
