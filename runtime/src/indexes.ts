import { INDEXES, type IndexSpec } from "@leadscore/contracts";
import type { Logger } from "./log.ts";

/**
 * The part of a MongoDB `Db` that index creation uses, so that contracts need not depend on the driver (a `Db`
 * fits it).
 */
export interface IndexableDb {
  command(command: { buildInfo: 1 }): Promise<Record<string, unknown>>;
  collection(name: string): {
    listIndexes(): { toArray(): Promise<{ name?: unknown }[]> };
    createIndex(key: Record<string, 1 | -1>, options: { name: string; unique?: boolean }): Promise<string>;
    dropIndex(name: string): Promise<unknown>;
  };
}

/**
 * Whether the server reads through secondary indexes. FerretDB 1.x does not: its reads scan whatever the filter (only
 * an `_id` filter is pushed down to the backend, and even that scans on SQLite), and an index there only serves an
 * insert's uniqueness check. A non-unique index is then pure cost on every insert — the events' `lead_order` index
 * takes 30% off FerretDB's insert rate. FerretDB names itself in `buildInfo` (`ferretdbVersion`); the build this
 * project makes of 1.24 reports its version as "unknown", a release build as "v1.x".
 */
export async function readsUseIndexes(db: Pick<IndexableDb, "command">): Promise<boolean> {
  const info = await db.command({ buildInfo: 1 });
  const ferretdb = info.ferretdbVersion;
  if (typeof ferretdb !== "string") return true;
  return !(ferretdb === "unknown" || /^v?1\./.test(ferretdb));
}

/** The indexes a store keeps: every one where reads use them, else only those that enforce uniqueness. */
export function indexesFor(specs: readonly IndexSpec[], readsIndexed: boolean): IndexSpec[] {
  return specs.filter((spec) => readsIndexed || spec.unique === true);
}

/**
 * Indexes earlier versions created and this one drops where it finds them, by collection: `event_type_unique` made
 * one rule per event type, and scoring model v2 lets several rules score one type.
 */
export const RETIRED_INDEXES: Readonly<Record<string, readonly string[]>> = { rules: ["event_type_unique"] };

/**
 * Creates every index in INDEXES that is missing, the one way every process does it. One index per command, and only
 * missing ones: FerretDB 1.x drops the connection when one `createIndexes` command names several indexes that
 * already exist. Drops the RETIRED_INDEXES it finds. On a store whose reads use no index (see `readsUseIndexes`), the non-unique ones are not created,
 * and dropped where an earlier version created them. Throws the first failure.
 */
export async function createMissingIndexes(db: IndexableDb, log: Logger): Promise<void> {
  const readsIndexed = await readsUseIndexes(db);
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
    const kept = indexesFor(specs, readsIndexed);
    for (const spec of kept) {
      if (existing.has(spec.name)) continue;
      await collection.createIndex(spec.key, { name: spec.name, ...(spec.unique ? { unique: true } : {}) });
    }
    for (const spec of specs) {
      if (!kept.includes(spec) && existing.has(spec.name)) await collection.dropIndex(spec.name);
    }
    for (const retired of RETIRED_INDEXES[name] ?? []) {
      if (existing.has(retired)) await collection.dropIndex(retired);
    }
  }
  log.debug("indexes ready", { collections: Object.keys(INDEXES), readsIndexed });
}
