// The identity map as a rebuild lays it out from MongoDB's `identities`: each recorded merge resolved to its root
// (union-find, compressed), the events stored under a merged id handed to its root, and the live map, the roots'
// alias sets and their "merged from" counts written again.
import { COLLECTIONS, type IdentityDocument, resolveRoots } from "@leadscore/contracts";
import type { LiveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** Every recorded merge, resolved: merged id → root. */
export async function readIdentities(db: Db, signal: AbortSignal | undefined): Promise<Map<string, string>> {
  const docs = await db
    .collection<IdentityDocument>(COLLECTIONS.identities)
    .find({}, { signal })
    .sort({ at: 1, _id: 1 })
    .toArray();
  return resolveRoots(docs.map((doc) => ({ from: doc._id, into: doc.into })));
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

/** Writes the live identity map, the alias sets and the "merged from" counts. */
export async function writeIdentities(
  redis: Redis,
  keys: LiveKeys,
  roots: ReadonlyMap<string, string>,
  merged: ReadonlyMap<string, ReadonlyMap<string, number>>,
): Promise<void> {
  if (roots.size === 0) return;
  const pipeline = redis.pipeline();
  pipeline.hset(keys.aliases, Object.fromEntries(roots));
  for (const [root, counts] of merged) {
    pipeline.sadd(keys.aliasesOf(root), ...counts.keys());
    pipeline.hset(keys.mergedFrom(root), Object.fromEntries(counts));
  }
  await pipeline.exec();
}
