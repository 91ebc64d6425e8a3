import { INDEXES, type Logger } from "@leadscore/contracts";
import type { Db } from "mongodb";

/**
 * Creates every index the system's queries need (idempotent; the worker does the same), so reads are fast even
 * before a worker has run. A failure is logged, not fatal: the edge still ingests while MongoDB is away.
 */
export async function ensureIndexes(db: Db, log: Logger): Promise<void> {
  for (const [collection, specs] of Object.entries(INDEXES)) {
    try {
      await db
        .collection(collection)
        .createIndexes(
          specs.map((spec) => ({ key: spec.key, name: spec.name, ...(spec.unique ? { unique: true } : {}) })),
        );
    } catch (error) {
      log.warn("indexes not created", { collection, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
