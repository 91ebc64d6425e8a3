// The live identity map: which ids were merged into which lead (union-find, kept one hop deep). The worker resolves
// every batch's lead ids through it before storing the events (one HMGET a batch), records merges with one script,
// and the deep lane folds a merged id's history into its root (worker/src/merge.ts). MongoDB's `identities` is the
// durable record a rebuild lays it out from.

import { STAGES } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

// Its KEYS, ARGV and reply: `lua/record-merge-5.lua`.
const RECORD_MERGE = redisScript<string>(new URL("./lua/record-merge-5.lua", import.meta.url));
// Theirs: `lua/hand-off-merged-22.lua`, `lua/import-merged-10.lua`.
const HAND_OFF_MERGED = redisScript<string>(new URL("./lua/hand-off-merged-22.lua", import.meta.url));
const IMPORT_MERGED = redisScript<string>(new URL("./lua/import-merged-10.lua", import.meta.url));

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
 * Records that `from` now resolves to `into` (a root) and hands both to the deep lane — only `from` when `into` lies
 * in another lead partition (`intoHere` false), whose deep lane hands it over there; see the script for the outcomes.
 * Nothing is written unless the outcome is "ok".
 */
export async function recordMerge(
  redis: Redis,
  keys: LiveKeys,
  gen: string,
  from: string,
  into: string,
  intoHere = true,
): Promise<MergeRecorded> {
  const reply = await RECORD_MERGE.run(
    redis,
    [keys.gen, keys.aliases, keys.aliasesOf(from), keys.aliasesOf(into), keys.deep],
    [gen, from, into, intoHere ? "1" : "0"],
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

/** One merge into a lead, as the lead's history shows it (`keys.mergeLog`). */
export interface MergeRecord {
  /** The merged id. */
  from: string;
  /** The lead it was merged into then (a root merged later carries its records over to its own root). */
  into: string;
  /** When the merge committed (epoch ms): the lead's score changed then. */
  at: number;
  /** The events the merged id brought, its own and those of the ids merged into it before. */
  events: number;
  /** The lead's score just before and just after the merge; null when a rebuild laid the record out from MongoDB. */
  scoreBefore: number | null;
  scoreAfter: number | null;
}

/** The wire form of a merge record: a JSON object, the merged id being the hash field. */
export function encodeMergeRecord(record: MergeRecord): string {
  return JSON.stringify({
    into: record.into,
    at: record.at,
    events: record.events,
    before: record.scoreBefore,
    after: record.scoreAfter,
  });
}

export function decodeMergeRecord(from: string, wire: string): MergeRecord {
  const { into, at, events, before, after } = JSON.parse(wire) as {
    into: string;
    at: number;
    events: number;
    before: number | null;
    after: number | null;
  };
  return { from, into, at, events, scoreBefore: before, scoreAfter: after };
}

/** Every merge into `root` (and carried over to it), oldest first. */
export async function mergeRecords(redis: Redis, keys: LiveKeys, root: string): Promise<MergeRecord[]> {
  const log = await redis.hgetall(keys.mergeLog(root));
  return Object.entries(log)
    .map(([from, wire]) => decodeMergeRecord(from, wire))
    .sort((a, b) => a.at - b.at || (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
}

/**
 * A merged lead on its way to its root's lead partition (hand-off-merged-22.lua): `wire` is what that partition's
 * import takes, as the hand-off stored it.
 */
export interface HandOff {
  from: string;
  root: string;
  wire: string;
}

export type HandOffOutcome = "stale" | "waiting" | "moved" | HandOff;

/**
 * Takes `from`, merged into `root` of another lead partition, out of this partition (`keys`) into a hand-off that
 * waits there until the root's partition took it (`importMerged`, then `dropHandOff`).
 */
export async function handOffMerged(
  redis: Redis,
  keys: LiveKeys,
  gen: string,
  from: string,
  root: string,
): Promise<HandOffOutcome> {
  const reply = await HAND_OFF_MERGED.run(
    redis,
    [
      keys.gen,
      keys.byScore,
      keys.byUpdated,
      keys.deep,
      keys.lead(from),
      keys.deepEvents(from),
      keys.byLastEvent,
      keys.searchTexts,
      keys.mergedFrom(from),
      keys.mergeLog(from),
      keys.rescoreLog(from),
      keys.aliasesOf(from),
      keys.aliases,
      keys.handOff,
      ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
      ...STAGES.map((stage) => keys.byLastEventIn(stage)),
    ],
    [gen, from, root],
  );
  if (reply === "stale" || reply === "waiting" || reply === "moved") return reply;
  return { from, root, wire: reply };
}

/** The hand-offs of this partition (`keys`) its roots' partitions have not taken yet. */
export async function waitingHandOffs(redis: Redis, keys: LiveKeys): Promise<HandOff[]> {
  const stored = await redis.hgetall(keys.handOff);
  return Object.entries(stored)
    .filter(([from]) => !from.startsWith("#"))
    .map(([from, wire]) => ({ from, root: (JSON.parse(wire) as { root: string }).root, wire }));
}

export type ImportOutcome =
  | { outcome: "ok" | "done" | "stale" | "loop" }
  | { outcome: "moved" | "taken"; root: string };

/** Takes a hand-off into its root's lead partition (`keys`); see import-merged-10.lua for the outcomes. */
export async function importMerged(
  redis: Redis,
  keys: LiveKeys,
  gen: string,
  handOff: HandOff,
): Promise<ImportOutcome> {
  const { from, root, wire } = handOff;
  const reply = await IMPORT_MERGED.run(
    redis,
    [
      keys.gen,
      keys.aliases,
      keys.deep,
      keys.lead(from),
      keys.deepEvents(from),
      keys.mergedFrom(from),
      keys.mergeLog(from),
      keys.rescoreLog(from),
      keys.aliasesOf(root),
      keys.handedIn,
    ],
    [gen, from, wire],
  );
  const colon = reply.indexOf(":");
  if (colon > 0) return { outcome: reply.slice(0, colon) as "moved" | "taken", root: reply.slice(colon + 1) };
  return { outcome: reply as "ok" | "done" | "stale" | "loop" };
}

/** Forgets a hand-off its root's partition took (one deep lane per partition hands off, so it is the one stored). */
export async function dropHandOff(redis: Redis, keys: LiveKeys, from: string): Promise<void> {
  await redis.hdel(keys.handOff, from);
}
