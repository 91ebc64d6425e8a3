// Documents read or deleted by a list of `_id`s, one `findOne` or `deleteOne` each instead of one `find` or
// `deleteMany` of an `$in`. The embedded store (FerretDB) pushes down to SQL a single-key `_id` equality and nothing
// else: with the `_id` index serving that equality (scripts/services.ts builds it so) a read or a delete is an index
// lookup (~1 ms), where an `$in` decodes every document of the collection — a cost that grows with everything stored,
// not with the ids asked for. MongoDB serves both from its `_id` index; one lookup per id costs it a round trip each, a
// few in flight at once, which is why this is for small, bounded sets of ids (a lead's history pages), not for a
// collection's worth.
import type { Collection, Document, Filter, WithId } from "mongodb";

/** Lookups in flight at once, unless told. */
export const BY_ID_IN_FLIGHT = 8;

/**
 * Runs a read once fewer than its bound are running: one gate shared by several reads (of several collections, or
 * several `findByIds`) bounds them all together, where each `findByIds` bounds only its own.
 */
export type LookupGate = <R>(read: () => Promise<R>) => Promise<R>;

/** A gate that lets at most `inFlight` reads run at once; the others start in the order they came. */
export function createLookupGate(inFlight = BY_ID_IN_FLIGHT): LookupGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (read) => {
    if (running < inFlight) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await read();
    } finally {
      // The place passes to the next waiting read, if any.
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

export interface FindByIdsOptions {
  /** Lookups in flight at once (default BY_ID_IN_FLIGHT). */
  inFlight?: number;
  /** Each lookup also waits for a place in this gate (shared with other reads). */
  gate?: LookupGate;
  projection?: Document;
  signal?: AbortSignal;
  /**
   * The whole read's time limit: `check` throws once it is up (called before and after each lookup), `remainingMs`
   * gives each lookup its `maxTimeMS`.
   */
  budget?: { check(): void; remainingMs(): number };
}

/** Runs `each` for every index below `count`, at most `inFlight` at once, in the order of the indexes. */
async function inTurn(count: number, inFlight: number, each: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < count) await each(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, run));
}

/** The documents of these `_id`s in the order of `ids` (each once per occurrence); ids not stored are left out. */
export async function findByIds<T extends { _id: string }>(
  collection: Collection<T>,
  ids: readonly string[],
  options: FindByIdsOptions = {},
): Promise<WithId<T>[]> {
  const found: (WithId<T> | null)[] = new Array(ids.length).fill(null);
  const lookup = async (index: number) => {
    options.budget?.check();
    found[index] = await collection.findOne({ _id: ids[index] } as Filter<T>, {
      ...(options.projection && { projection: options.projection }),
      ...(options.signal && { signal: options.signal }),
      ...(options.budget && { maxTimeMS: options.budget.remainingMs() }),
    });
    options.budget?.check();
  };
  const { gate } = options;
  await inTurn(ids.length, options.inFlight ?? BY_ID_IN_FLIGHT, gate ? (index) => gate(() => lookup(index)) : lookup);
  return found.filter((doc): doc is WithId<T> => doc !== null);
}

/** Deletes the documents of these `_id`s, one `deleteOne` each; returns how many were deleted. */
export async function deleteByIds<T extends { _id: string }>(
  collection: Collection<T>,
  ids: readonly string[],
  options: Pick<FindByIdsOptions, "inFlight"> = {},
): Promise<number> {
  let deleted = 0;
  await inTurn(ids.length, options.inFlight ?? BY_ID_IN_FLIGHT, async (index) => {
    const { deletedCount } = await collection.deleteOne({ _id: ids[index] } as Filter<T>);
    deleted += deletedCount;
  });
  return deleted;
}
