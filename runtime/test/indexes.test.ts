import { INDEXES } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { createMissingIndexes, type IndexableDb, silentLogger } from "../src/index.ts";

/** A database that records each index command; `present` holds the indexes it already has, by collection. */
function recordingDb(present: Record<string, string[]> = {}, missingCollections: string[] = []) {
  const created: { collection: string; name: string; unique: boolean }[] = [];
  const db: IndexableDb = {
    collection: (collection) => ({
      listIndexes: () => ({
        toArray: async () => {
          if (missingCollections.includes(collection)) throw new Error("ns does not exist");
          return (present[collection] ?? []).map((name) => ({ name }));
        },
      }),
      createIndex: async (_key, options) => {
        created.push({ collection, name: options.name, unique: options.unique === true });
        return options.name;
      },
    }),
  };
  return { db, created };
}

const everyIndex = Object.entries(INDEXES).flatMap(([collection, specs]) =>
  specs.map((spec) => ({ collection, name: spec.name, unique: spec.unique === true })),
);

describe("creating the indexes", () => {
  it("sends one command per index on an empty database, unique ones marked unique", async () => {
    const { db, created } = recordingDb({}, Object.keys(INDEXES));
    await createMissingIndexes(db, silentLogger);
    expect(created).toEqual(everyIndex);
  });

  it("sends none for indexes that already exist", async () => {
    const present = Object.fromEntries(
      Object.entries(INDEXES).map(([name, specs]) => [name, specs.map((s) => s.name)]),
    );
    const { db, created } = recordingDb(present);
    await createMissingIndexes(db, silentLogger);
    expect(created).toEqual([]);
  });

  it("creates only the missing ones beside existing ones", async () => {
    const { db, created } = recordingDb({ leads: ["_id_", "company"] });
    await createMissingIndexes(db, silentLogger);
    expect(created).toEqual(everyIndex.filter((index) => !(index.collection === "leads" && index.name === "company")));
  });
});
