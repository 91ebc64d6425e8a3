// Thin helpers over the MongoDB driver for the worker's bulk writes, and the limits of the server behind it.
import { DUPLICATE_KEY } from "@leadscore/contracts";
import { type AnyBulkWriteOperation, type Collection, type Db, type Document, MongoBulkWriteError } from "mongodb";

/**
 * How the worker must shape its writes for the server it talks to. Real MongoDB takes any bulk. FerretDB 1.x (the
 * local stand-in) holds one SQLite connection per matched document of an `update` command until the command ends
 * and has 100 per database, so a bulk of ~100 matched updates — or several smaller ones at once — deadlocks it:
 * there, updates go in small, sequential commands.
 */
export interface StoreLimits {
  server: "mongodb" | "ferretdb";
  /** Most update operations per command; undefined: no limit (the driver splits at the server's own maximum). */
  updateChunk: number | undefined;
  /** Most reads in flight at once for per-lead lookups. */
  readConcurrency: number;
  /**
   * Whether the slow path reads its leads' events and history with one `lead_id: { $in }` query per collection
   * rather than indexed range queries and a lookup per lead. FerretDB 1.x evaluates every query over the whole
   * collection, so one pass for all is far cheaper there; on MongoDB it would read each lead's whole history.
   */
  batchLookups: boolean;
  /**
   * Whether recomputed history entries are replaced by one delete and one insert rather than updated one by one:
   * on FerretDB each update scans the collection; on MongoDB an update by `_id` is cheap and never leaves a gap.
   */
  rewriteByReplace: boolean;
  /**
   * Whether the lead's compare-and-set goes in the update's filter (`{ _id, version }`), atomic on MongoDB.
   * FerretDB 1.x pushes only a lone `_id` filter down to its storage and evaluates any other by reading the whole
   * collection, once per update; and its update is not atomic anyway (it reads, then writes back by `_id`). There the
   * round re-reads all its leads in one query just before writing them by `_id`, which checks exactly as much, and
   * the leases keep two workers off one lead.
   */
  versionInFilter: boolean;
}

export async function detectStoreLimits(db: Db): Promise<StoreLimits> {
  const info = await db.admin().command({ buildInfo: 1 });
  if (typeof info.ferretdbVersion === "string") {
    return {
      server: "ferretdb",
      updateChunk: 25,
      readConcurrency: 4,
      batchLookups: true,
      rewriteByReplace: true,
      versionInFilter: false,
    };
  }
  return {
    server: "mongodb",
    updateChunk: undefined,
    readConcurrency: 32,
    batchLookups: false,
    rewriteByReplace: false,
    versionInFilter: true,
  };
}

function writeErrorsOf(error: MongoBulkWriteError): { index: number; code: number | undefined }[] {
  const list = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return list.map((item) => ({ index: item.index, code: item.code }));
}

/**
 * `insertMany` that treats an existing `_id` as "already there" (the stored copy wins) and returns the indexes of
 * the documents that were not inserted for that reason. Any other failure is thrown.
 */
export async function insertNew<T extends Document>(collection: Collection<T>, docs: T[]): Promise<Set<number>> {
  const existing = new Set<number>();
  if (docs.length === 0) return existing;
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the driver's OptionalUnlessRequiredId<T> cannot be named for a generic T
    await collection.insertMany(docs as any[], { ordered: false });
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const errors = writeErrorsOf(error);
    if (errors.length === 0 || errors.some((item) => item.code !== DUPLICATE_KEY)) throw error;
    for (const item of errors) existing.add(item.index);
  }
  return existing;
}

export interface BulkOutcome {
  matched: number;
  inserted: number;
  upserted: number;
  /** Operations refused because of a duplicate `_id` (a lost compare-and-set on insert). */
  duplicates: number;
}

/** An unordered bulk write in chunks the server can take; duplicate-key refusals are counted, others thrown. */
export async function bulkWriteChunked<T extends Document>(
  collection: Collection<T>,
  operations: AnyBulkWriteOperation<T>[],
  limits: StoreLimits,
): Promise<BulkOutcome> {
  const outcome: BulkOutcome = { matched: 0, inserted: 0, upserted: 0, duplicates: 0 };
  const chunk = limits.updateChunk ?? Math.max(operations.length, 1);
  for (let from = 0; from < operations.length; from += chunk) {
    const part = operations.slice(from, from + chunk);
    try {
      const result = await collection.bulkWrite(part, { ordered: false });
      outcome.matched += result.matchedCount;
      outcome.inserted += result.insertedCount;
      outcome.upserted += result.upsertedCount;
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const errors = writeErrorsOf(error);
      if (errors.length === 0 || errors.some((item) => item.code !== DUPLICATE_KEY)) throw error;
      outcome.duplicates += errors.length;
      outcome.matched += error.result.matchedCount;
      outcome.inserted += error.result.insertedCount;
      outcome.upserted += error.result.upsertedCount;
    }
  }
  return outcome;
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}
