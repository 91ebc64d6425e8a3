import { INDEXES } from "@leadscore/contracts";
import type { Logger } from "./log.ts";

/**
 * The part of a MongoDB `Db` that index creation uses, so that contracts need not depend on the driver (a `Db`
 * fits it).
 */
export interface IndexableDb {
  collection(name: string): {
    listIndexes(): { toArray(): Promise<{ name?: unknown }[]> };
    createIndex(key: Record<string, 1 | -1>, options: { name: string; unique?: boolean }): Promise<string>;
  };
}

/**
 * Creates every index in INDEXES that is missing, the one way every process does it. One index per command, and only
 * missing ones: FerretDB 1.x drops the connection when one `createIndexes` command names several indexes that
 * already exist. Throws the first failure.
 */
export async function createMissingIndexes(db: IndexableDb, log: Logger): Promise<void> {
  for (const [name, specs] of Object.entries(INDEXES)) {
    const collection = db.collection(name);
    // A collection that does not exist yet has no indexes (MongoDB answers listIndexes with an error).
    const existing = new Set(
      (
        await collection
          .listIndexes()
          .toArray()
          .catch(() => [])
      ).map((index) => String(index.name)),
    );
    for (const spec of specs) {
      if (existing.has(spec.name)) continue;
      await collection.createIndex(spec.key, { name: spec.name, ...(spec.unique ? { unique: true } : {}) });
    }
  }
  log.debug("indexes ready", { collections: Object.keys(INDEXES) });
}
