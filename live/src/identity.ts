// The live identity map: which ids were merged into which lead (union-find, kept one hop deep). The worker resolves
// every batch's lead ids through it before storing the events (one HMGET a batch), records merges with one script,
// and the deep lane folds a merged id's history into its root (worker/src/merge.ts). MongoDB's `identities` is the
// durable record a rebuild lays it out from.
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

// Its KEYS, ARGV and reply: `lua/record-merge-5.lua`.
const RECORD_MERGE = redisScript<string>(new URL("./lua/record-merge-5.lua", import.meta.url));

export type MergeRecorded =
  | { outcome: "ok" | "same" | "loop" | "stale" }
  | { outcome: "taken" | "moved"; root: string };

/** The roots of the given ids that were merged into another lead (ids that are roots are left out). */
export async function resolveLeads(redis: Redis, keys: LiveKeys, ids: readonly string[]): Promise<Map<string, string>> {
  const roots = new Map<string, string>();
  if (ids.length === 0) return roots;
  const values = await redis.hmget(keys.aliases, ...ids);
  values.forEach((root, index) => {
    if (root !== null) roots.set(ids[index] as string, root);
  });
  return roots;
}

/** The root `id` resolves to: itself unless it was merged. */
export async function resolveLead(redis: Redis, keys: LiveKeys, id: string): Promise<string> {
  return (await redis.hget(keys.aliases, id)) ?? id;
}

/**
 * Records that `from` now resolves to `into` (a root) and hands both to the deep lane; see the script for the
 * outcomes. Nothing is written unless the outcome is "ok".
 */
export async function recordMerge(
  redis: Redis,
  keys: LiveKeys,
  gen: string,
  from: string,
  into: string,
): Promise<MergeRecorded> {
  const reply = await RECORD_MERGE.run(
    redis,
    [keys.gen, keys.aliases, keys.aliasesOf(from), keys.aliasesOf(into), keys.deep],
    [gen, from, into],
  );
  const colon = reply.indexOf(":");
  if (colon > 0) return { outcome: reply.slice(0, colon) as "taken" | "moved", root: reply.slice(colon + 1) };
  return { outcome: reply as "ok" | "same" | "loop" | "stale" };
}

/** The ids merged into `root`, by how many events each brought, oldest merge first. */
export async function mergedInto(
  redis: Redis,
  keys: LiveKeys,
  root: string,
): Promise<{ id: string; events: number }[]> {
  const merged = await redis.hgetall(keys.mergedFrom(root));
  return Object.entries(merged).map(([id, events]) => ({ id, events: Number(events) }));
}
