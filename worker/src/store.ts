// The one MongoDB write the worker makes on the path of an event: an insert that treats an existing `_id` as stored,
// and that tells a document the store refuses (a store limit: nested arrays on FerretDB, a NUL in a key for the
// driver) apart from a store that is away, so one such document never holds back the others.
import { DUPLICATE_KEY } from "@leadscore/contracts";
import { BSON, type Collection, type Document, MongoBulkWriteError } from "mongodb";

export interface InsertOutcome {
  /** Indexes of the documents already stored (their `_id` is taken): the stored copy wins. */
  existing: Set<number>;
  /** Indexes of the documents the store refused, with its reason: no retry would store them. */
  refused: Map<number, string>;
}

/**
 * Per-document error codes that say the server could not take the write now (MongoDB's retryable write errors), not
 * that the document is unacceptable: the insert is thrown, and retried whole, rather than any document refused.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  6, 7, 50, 63, 89, 91, 112, 150, 189, 262, 9001, 10107, 11600, 11602, 13388, 13435, 13436,
]);

function writeErrorsOf(error: MongoBulkWriteError): { index: number; code: number | undefined; message: string }[] {
  const list = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return list.map((item) => ({ index: item.index, code: item.code, message: item.errmsg ?? `code ${item.code}` }));
}

/** Why the driver cannot encode the document (it checks this before sending anything), or null. */
function unencodable(doc: Document): string | null {
  try {
    BSON.serialize(doc);
    return null;
  } catch (error) {
    return BSON.BSONError.isBSONError(error) ? error.message : null;
  }
}

/**
 * `insertMany`, unordered, that sorts out the documents not inserted: already stored (a duplicate `_id`) or refused
 * by the store. Anything else (the store away, a write it could not take now) is thrown, so the caller retries.
 * One round trip in the normal case; when the driver refuses the whole call before sending it (a document it cannot
 * encode), the documents are encoded here one by one, without a round trip, and the others sent again.
 */
export async function insertReporting<T extends Document>(
  collection: Collection<T>,
  docs: T[],
): Promise<InsertOutcome> {
  const outcome: InsertOutcome = { existing: new Set(), refused: new Map() };
  if (docs.length === 0) return outcome;
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the driver's OptionalUnlessRequiredId<T> cannot be named for a generic T
    await collection.insertMany(docs as any[], { ordered: false });
  } catch (error) {
    if (BSON.BSONError.isBSONError(error)) {
      const sendable: number[] = [];
      docs.forEach((doc, index) => {
        const reason = unencodable(doc);
        if (reason === null) sendable.push(index);
        else outcome.refused.set(index, reason);
      });
      if (outcome.refused.size === 0) throw error;
      const rest = await insertReporting(
        collection,
        sendable.map((index) => docs[index] as T),
      );
      for (const index of rest.existing) outcome.existing.add(sendable[index] as number);
      for (const [index, reason] of rest.refused) outcome.refused.set(sendable[index] as number, reason);
      return outcome;
    }
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const errors = writeErrorsOf(error);
    if (errors.length === 0 || errors.some((item) => item.code !== undefined && TRANSIENT_CODES.has(item.code))) {
      throw error;
    }
    for (const item of errors) {
      if (item.code === DUPLICATE_KEY) outcome.existing.add(item.index);
      else outcome.refused.set(item.index, item.message);
    }
  }
  return outcome;
}

/**
 * `insertMany` that treats an existing `_id` as "already there" (the stored copy wins) and returns the indexes of
 * the documents that were not inserted for that reason. Any other failure is thrown: for documents the worker builds
 * itself (history pages), a refusal is a bug, not bad input.
 */
export async function insertNew<T extends Document>(collection: Collection<T>, docs: T[]): Promise<Set<number>> {
  const { existing, refused } = await insertReporting(collection, docs);
  const [first] = refused;
  if (first !== undefined) {
    throw new Error(`the store refused ${refused.size} of ${docs.length} documents; the first: ${first[1]}`);
  }
  return existing;
}
