// findByIds reads and deleteByIds deletes each document with its own `_id` equality — the one filter the embedded
// store serves from its `_id` index — a bounded number at once; findByIds gives them back in the order asked.
import { afterEach, describe, expect, it } from "vitest";
import { watchedClient } from "../../test-support/commands.ts";
import { createTestDb, uniqueName } from "../../test-support/index.ts";
import { createLookupGate, deleteByIds, findByIds } from "../src/by-id.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Page {
  _id: string;
  n: number;
  entries: string;
}

/** A collection of 40 documents, and the `find` and `delete` commands sent for it (on a client that reports them). */
async function setup() {
  const name = uniqueName("by-id");
  const testDb = await createTestDb(name);
  cleanups.push(testDb.drop);
  await testDb.db
    .collection<Page>("pages")
    .insertMany(Array.from({ length: 40 }, (_, n) => ({ _id: `p${n}`, n, entries: "x".repeat(100) })));
  // A connection for every document: the pool's growth is no bound on what is in flight.
  const watched = await watchedClient(testDb.url, (name) => name === "find" || name === "delete", { open: 40 });
  cleanups.push(watched.close);
  const sent = (name: string) => watched.sent.filter((command) => command.name === name).map(({ command }) => command);
  return {
    pages: watched.client.db(name).collection<Page>("pages"),
    stored: testDb.db.collection<Page>("pages"),
    finds: () => sent("find").map(({ filter, maxTimeMS }) => ({ filter, maxTimeMS })),
    deletes: () => sent("delete").flatMap((command) => command.deletes as { q: unknown; limit: number }[]),
    most: watched.mostInFlight,
  };
}

describe("findByIds", () => {
  it("reads each id with its own `_id` equality, never an `$in`", async () => {
    const s = await setup();
    await findByIds(s.pages, ["p3", "p1", "p2"]);
    // Sent side by side: in any order.
    const filters = s.finds().map((find) => find.filter as { _id: string });
    expect(filters.sort((a, b) => a._id.localeCompare(b._id))).toEqual([{ _id: "p1" }, { _id: "p2" }, { _id: "p3" }]);
  });

  it("gives the documents back in the order asked, leaving out ids not stored", async () => {
    const s = await setup();
    const ids = ["p30", "missing", "p2", "p17", "p2", "p0"];
    const docs = await findByIds(s.pages, ids, { projection: { entries: 0 } });
    expect(docs).toEqual([
      { _id: "p30", n: 30 },
      { _id: "p2", n: 2 },
      { _id: "p17", n: 17 },
      { _id: "p2", n: 2 },
      { _id: "p0", n: 0 },
    ]);
  });

  it("keeps at most `inFlight` lookups in flight at once", async () => {
    const s = await setup();
    const ids = Array.from({ length: 40 }, (_, n) => `p${39 - n}`);
    const docs = await findByIds(s.pages, ids, { inFlight: 4 });
    expect(docs.map((doc) => doc.n)).toEqual(Array.from({ length: 40 }, (_, n) => 39 - n));
    expect(s.finds()).toHaveLength(40);
    expect(s.most()).toBeLessThanOrEqual(4);
    expect(s.most()).toBeGreaterThan(1);
  });

  it("keeps at most a shared gate's bound in flight over every call through it, each in the order it asked", async () => {
    const s = await setup();
    const gate = createLookupGate(4);
    // Ten calls of four ids each, all at once: each within its own bound, forty beside each other without the gate.
    const asked = Array.from({ length: 10 }, (_, call) => Array.from({ length: 4 }, (_, n) => `p${39 - call * 4 - n}`));
    const read = await Promise.all(asked.map((ids) => findByIds(s.pages, ids, { gate })));
    expect(read.map((docs) => docs.map((doc) => doc._id))).toEqual(asked);
    expect(s.finds()).toHaveLength(40);
    expect(s.most()).toBeLessThanOrEqual(4);
    expect(s.most()).toBeGreaterThan(1);
  });

  it("lets a shared gate's next read start when one fails", async () => {
    const gate = createLookupGate(1);
    await expect(gate(async () => Promise.reject(new Error("lost")))).rejects.toThrow("lost");
    expect(await gate(async () => "read")).toBe("read");
  });

  it("stops once its budget's time is up, and gives each lookup the time left", async () => {
    const s = await setup();
    let checks = 0;
    const budget = {
      check() {
        if (++checks > 3) throw new Error("time is up");
      },
      remainingMs: () => 5_000,
    };
    await expect(findByIds(s.pages, ["p1", "p2", "p3", "p4"], { budget, inFlight: 1 })).rejects.toThrow("time is up");
    expect(s.finds()).toHaveLength(2);
    expect(s.finds().map((find) => find.maxTimeMS)).toEqual([5_000, 5_000]);
  });

  it("stops its lookups with the signal", async () => {
    const s = await setup();
    const abort = new AbortController();
    abort.abort(new Error("stopped"));
    await expect(findByIds(s.pages, ["p1", "p2"], { signal: abort.signal })).rejects.toThrow("stopped");
  });
});

describe("deleteByIds", () => {
  it("deletes each id with its own `_id` equality, never an `$in`, and counts those it deleted", async () => {
    const s = await setup();
    expect(await deleteByIds(s.pages, ["p3", "missing", "p1"])).toBe(2);
    const deletes = s.deletes().map((one) => one as { q: { _id: string }; limit: number });
    expect(deletes.sort((a, b) => a.q._id.localeCompare(b.q._id))).toEqual([
      { q: { _id: "missing" }, limit: 1 },
      { q: { _id: "p1" }, limit: 1 },
      { q: { _id: "p3" }, limit: 1 },
    ]);
    expect(await s.stored.countDocuments({ _id: { $in: ["p1", "p3"] } })).toBe(0);
    expect(await s.stored.countDocuments()).toBe(38);
  });

  it("keeps at most `inFlight` deletes in flight at once", async () => {
    const s = await setup();
    const ids = Array.from({ length: 40 }, (_, n) => `p${n}`);
    expect(await deleteByIds(s.pages, ids, { inFlight: 4 })).toBe(40);
    expect(s.deletes()).toHaveLength(40);
    expect(s.most()).toBeLessThanOrEqual(4);
    expect(s.most()).toBeGreaterThan(1);
    expect(await s.stored.countDocuments()).toBe(0);
  });
});
