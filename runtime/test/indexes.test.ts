import { INDEXES } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { createTestDb, uniqueName } from "../../test-support/index.ts";
import { createMissingIndexes, type IndexableDb, indexesFor, readsUseIndexes, silentLogger } from "../src/index.ts";

/** MongoDB's `buildInfo`, and FerretDB's as the build of `services/ferretdb` and a release of 1.x answer it. */
const MONGODB = { version: "7.0.14", ok: 1 };
const FERRETDB_BUILT_HERE = { version: "7.0.42", ferretdbVersion: "unknown", ok: 1 };
const FERRETDB_RELEASE = { version: "7.0.42", ferretdbVersion: "v1.24.2", ok: 1 };

/**
 * A database that records each index command; `present` holds the indexes it already has, by collection, and
 * `buildInfo` what the server says of itself.
 */
function recordingDb(
  present: Record<string, string[]> = {},
  missingCollections: string[] = [],
  buildInfo: Record<string, unknown> = MONGODB,
) {
  const created: { collection: string; name: string; unique: boolean }[] = [];
  const dropped: { collection: string; name: string }[] = [];
  const db: IndexableDb = {
    command: async () => buildInfo,
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
      dropIndex: async (name) => {
        dropped.push({ collection, name });
      },
    }),
  };
  return { db, created, dropped };
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

describe("when an earlier version left an index this one retired", () => {
  it("drops the unique event type index of the rules, on MongoDB and FerretDB alike", async () => {
    for (const buildInfo of [MONGODB, FERRETDB_BUILT_HERE]) {
      const { db, dropped } = recordingDb({ rules: ["_id_", "event_type_unique"] }, [], buildInfo);
      await createMissingIndexes(db, silentLogger);
      expect(dropped).toContainEqual({ collection: "rules", name: "event_type_unique" });
    }
  });

  it("drops nothing where it is not there", async () => {
    const { db, dropped } = recordingDb({ rules: ["_id_"] });
    await createMissingIndexes(db, silentLogger);
    expect(dropped).toEqual([]);
  });
});

describe("on a store whose reads use no index (FerretDB 1.x)", () => {
  const unique = everyIndex.filter((index) => index.unique);

  it("creates only the indexes that enforce uniqueness", async () => {
    for (const buildInfo of [FERRETDB_BUILT_HERE, FERRETDB_RELEASE]) {
      const { db, created } = recordingDb({}, Object.keys(INDEXES), buildInfo);
      await createMissingIndexes(db, silentLogger);
      expect(created).toEqual(unique);
    }
  });

  it("drops the non-unique ones an earlier start created, and keeps the rest", async () => {
    const present = Object.fromEntries(
      Object.entries(INDEXES).map(([name, specs]) => [name, ["_id_", ...specs.map((s) => s.name)]]),
    );
    const { db, created, dropped } = recordingDb(present, [], FERRETDB_BUILT_HERE);
    await createMissingIndexes(db, silentLogger);
    expect(created).toEqual([]);
    expect(dropped).toEqual(
      everyIndex.filter((index) => !index.unique).map(({ collection, name }) => ({ collection, name })),
    );
  });

  it("is told apart from MongoDB and from a later FerretDB by buildInfo", async () => {
    const of = (buildInfo: Record<string, unknown>) => readsUseIndexes({ command: async () => buildInfo });
    expect(await of(MONGODB)).toBe(true);
    expect(await of({ ...FERRETDB_RELEASE, ferretdbVersion: "v2.1.0" })).toBe(true);
    expect(await of(FERRETDB_BUILT_HERE)).toBe(false);
    expect(await of(FERRETDB_RELEASE)).toBe(false);
  });
});

describe("on the test store", () => {
  it("keeps exactly the indexes its reads can use, and every uniqueness index, whatever an earlier start created", async () => {
    const store = await createTestDb(uniqueName("indexes"));
    try {
      // As a version that created every index left them, the retired one included.
      await store.db.collection("rules").createIndex({ event_type: 1 }, { name: "event_type_unique", unique: true });
      for (const [name, specs] of Object.entries(INDEXES)) {
        for (const spec of specs) {
          await store.db
            .collection(name)
            .createIndex(spec.key, { name: spec.name, ...(spec.unique ? { unique: true } : {}) });
        }
      }
      await createMissingIndexes(store.db, silentLogger);
      const readsIndexed = await readsUseIndexes(store.db);
      for (const [name, specs] of Object.entries(INDEXES)) {
        // A collection given no index does not exist yet: it has none.
        const listed = await store.db
          .collection(name)
          .listIndexes()
          .toArray()
          .catch(() => []);
        const names = listed.map((index) => index.name);
        expect(names.filter((n) => n !== "_id_").sort()).toEqual(
          indexesFor(specs, readsIndexed)
            .map((spec) => spec.name)
            .sort(),
        );
      }
      const rules = store.db.collection("rules");
      // Several rules may score one event type now.
      await rules.insertOne({ event_type: "page_view", points: 1 });
      await rules.insertOne({ event_type: "page_view", points: 2 });
      expect(await rules.countDocuments({ event_type: "page_view" })).toBe(2);
    } finally {
      await store.drop();
    }
  });
});
