// The identity map as a rebuild lays it out from MongoDB's `identities`: each recorded merge resolved to its root
// (union-find, compressed), the events stored under a merged id handed to its root, and the live map, the roots'
// alias sets, their "merged from" counts and their merge logs written again.
import { COLLECTIONS, type IdentityDocument, resolveRoots } from "@leadscore/contracts";
import { encodeMergeRecord, type LiveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** Every recorded merge, resolved (`roots`: merged id → root), and each as recorded (`merges`: merged id → its record). */
export async function readIdentities(
  db: Db,
  signal: AbortSignal | undefined,
): Promise<{ roots: Map<string, string>; merges: Map<string, IdentityDocument> }> {
  const docs = await db
    .collection<IdentityDocument>(COLLECTIONS.identities)
    .find({}, { signal })
    .sort({ at: 1, _id: 1 })
    .toArray();
  return {
    roots: resolveRoots(docs.map((doc) => ({ from: doc._id, into: doc.into }))),
    merges: new Map(docs.map((doc) => [doc._id, doc])),
  };
}

/**
 * Hands the events stored under a merged id to its root as a rebuild reads them: `leadOf` (for the event stream,
 * once per event) names the lead an event stored under an id belongs to and counts what each merged id brings;
 * `merged` holds those counts, by root, each merged id present (0 when it brought no event).
 */
export function mergedEventCounts(roots: ReadonlyMap<string, string>) {
  const merged = new Map<string, Map<string, number>>();
  for (const [id, root] of roots) {
    const counts = merged.get(root) ?? new Map<string, number>();
    counts.set(id, 0);
    merged.set(root, counts);
  }
  return {
    merged,
    leadOf(id: string): string {
      const root = roots.get(id);
      if (root === undefined) return id;
      const counts = merged.get(root) as Map<string, number>;
      counts.set(id, (counts.get(id) ?? 0) + 1);
      return root;
    },
  };
}

/**
 * Writes the live identity map, the alias sets, the "merged from" counts and the merge logs. A merge log laid out
 * here dates each merge when it was recorded, counts the events stored under the merged id itself, and knows no
 * scores either side of it.
 */
export async function writeIdentities(
  redis: Redis,
  keys: LiveKeys,
  roots: ReadonlyMap<string, string>,
  merged: ReadonlyMap<string, ReadonlyMap<string, number>>,
  merges: ReadonlyMap<string, IdentityDocument>,
): Promise<void> {
  if (roots.size === 0) return;
  const pipeline = redis.pipeline();
  pipeline.hset(keys.aliases, Object.fromEntries(roots));
  for (const [root, counts] of merged) {
    pipeline.sadd(keys.aliasesOf(root), ...counts.keys());
    pipeline.hset(keys.mergedFrom(root), Object.fromEntries(counts));
    const log = [...counts].map(([from, events]) => {
      const doc = merges.get(from);
      const record = { from, into: doc?.into ?? root, at: doc?.at.getTime() ?? 0, events };
      return [from, encodeMergeRecord({ ...record, scoreBefore: null, scoreAfter: null })];
    });
    pipeline.hset(keys.mergeLog(root), Object.fromEntries(log));
  }
  await pipeline.exec();
}
