// The one MongoDB write the worker makes on the path of an event: an insert that treats an existing `_id` as stored.
import { DUPLICATE_KEY } from "@leadscore/contracts";
import { type Collection, type Document, MongoBulkWriteError } from "mongodb";

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
