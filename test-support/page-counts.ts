// History pages of a live state: stored in MongoDB, named by its leads' page lists, retired (awaiting the workers'
// sweep). Cheaper than the audit: the leads' page lists only, read from the score index's members.
import { COLLECTIONS } from "@leadscore/contracts";
import { decodePageRefs, leadHashField, liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

export async function pageCounts(redis: Redis, db: Db, prefix: string) {
  const keys = liveKeys(prefix);
  const leads = await redis.zrange(keys.byScore, "0", "-1");
  let named = 0;
  for (let from = 0; from < leads.length; from += 1_000) {
    const pipeline = redis.pipeline();
    for (const id of leads.slice(from, from + 1_000)) pipeline.hget(keys.lead(id), leadHashField("pages"));
    for (const [error, list] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      named += decodePageRefs(list as string | null).length;
    }
  }
  const stored = await db.collection(COLLECTIONS.historyPages).countDocuments({});
  return { stored, named, retired: await redis.zcard(keys.retiredPages) };
}

/** "S stored, N named, R retired: X× stored / named". */
export function pageCountsLine(pages: { stored: number; named: number; retired: number }): string {
  const ratio = (pages.stored / Math.max(1, pages.named)).toFixed(3);
  return `${pages.stored} stored, ${pages.named} named, ${pages.retired} retired: ${ratio}× stored / named`;
}
