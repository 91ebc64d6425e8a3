// History pages written for a commit and not yet released (`<prefix>:pages:pending`, worker/src/page-garbage.ts): a
// writer puts a page here before the commit that names it and drops it once MongoDB holds it, so a page the live
// state names is always in one of the two. A reader that finds a named page missing from MongoDB reads it here.
import type { HistoryPageDocument } from "@leadscore/contracts";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

/** `[lead_id, n, entries, tally ("" when none), written_at (ms)]`. */
type PendingWire = [string, number, string, string, number];

export function encodePendingPage(doc: HistoryPageDocument): string {
  const wire: PendingWire = [doc.lead_id, doc.n, doc.entries, doc.tally ?? "", doc.written_at.getTime()];
  return JSON.stringify(wire);
}

export function decodePendingPage(id: string, stored: string): HistoryPageDocument {
  const [lead_id, n, entries, tally, at] = JSON.parse(stored) as PendingWire;
  return { _id: id, lead_id, n, entries, ...(tally !== "" && { tally }), written_at: new Date(at) };
}

/** The pending copies of the given pages (one HMGET); pages with none are left out. */
export async function readPendingPages(
  redis: Redis,
  keys: Pick<LiveKeys, "pendingPages">,
  ids: readonly string[],
): Promise<HistoryPageDocument[]> {
  if (ids.length === 0) return [];
  const stored = await redis.hmget(keys.pendingPages, ...ids);
  return ids.flatMap((id, index) => {
    const page = stored[index];
    return page ? [decodePendingPage(id, page)] : [];
  });
}
