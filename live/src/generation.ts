// The live state's generation (`LiveKeys.gen`): `<redis run id>:<layout>:<random>` once built, `rebuilding:<random>`
// while a rebuild runs. The worker rebuilds a live state that is missing, being rebuilt, built on an earlier run of
// Redis (a restart may have lost its last writes) or laid out by an earlier version (an index this version reads
// would be missing its leads); the edge's /readyz reports ready only for a current one.
import { redisScript, serversOf } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

/** Prefix of the generation while a rebuild runs. */
export const REBUILDING = "rebuilding:";

/**
 * The live state's layout: raised whenever a version adds something to it that only a rebuild fills for existing
 * leads (an index, a field every reader expects), so the first worker of that version rebuilds it.
 * 2: the latest-activity index and its per-stage indexes, page refs with their lowest and highest score.
 * 3: the search texts of profiled leads (`searchTexts`), which searches read instead of MongoDB; scoring model v2 —
 *    the fold's tally and the breakdown in the lead's hash, rules in history entries, each page's start tally in its
 *    document and its digest in its ref.
 * 4: the time of the last event before the tail in its base (`at`: where a score decays from).
 */
export const LIVE_LAYOUT = "layout4";

/** A generation for a live state built on this run of Redis in this version's layout. */
export async function newGeneration(redis: Redis, label: string): Promise<string> {
  return `${await redisRunId(redis)}:${LIVE_LAYOUT}:${label}`;
}

/**
 * Redis's `run_id`: new at every start of the Redis process. On a Cluster, every master's, so that a restart or a
 * failover of any of them (each may lose its last writes) makes the live state stale.
 */
export async function redisRunId(redis: Redis): Promise<string> {
  const servers = await serversOf(redis);
  const ids = await Promise.all(
    servers.map(async (server) => (await server.info("server")).match(/run_id:(\w+)/)?.[1] ?? "unknown"),
  );
  return ids.sort().join(".");
}

/**
 * Whether the generation was built on this very Redis process (so nothing it holds can have been lost since), in
 * this version's layout.
 */
export async function generationIsCurrent(redis: Redis, generation: string | null): Promise<boolean> {
  if (generation === null || generation.startsWith(REBUILDING)) return false;
  const [runId, layout] = generation.split(":");
  return layout === LIVE_LAYOUT && runId === (await redisRunId(redis));
}

export type GenerationState = "current" | "missing" | "rebuilding" | "stale";

/** The live state's generation and what it means for reads: only `current` serves what MongoDB holds. */
export async function liveGeneration(
  redis: Redis,
  keys: Pick<LiveKeys, "gen">,
): Promise<{ generation: string | null; state: GenerationState }> {
  const generation = await redis.get(keys.gen);
  if (generation === null) return { generation, state: "missing" };
  if (generation.startsWith(REBUILDING)) return { generation, state: "rebuilding" };
  return { generation, state: (await generationIsCurrent(redis, generation)) ? "current" : "stale" };
}

/**
 * Whether the generation was built in this version's layout on an earlier run of Redis: what it holds is then what
 * that run's append-only file kept, a prefix of its writes (see worker/src/catch-up.ts), not a missing state.
 */
export function builtOnEarlierRun(generation: string | null, runId: string): boolean {
  if (generation === null || generation.startsWith(REBUILDING)) return false;
  const [built, layout] = generation.split(":");
  return layout === LIVE_LAYOUT && built !== runId;
}

// Its KEYS, ARGV and reply: `lua/renew-generation-1.lua`.
const RENEW_GENERATION = redisScript<number>(new URL("./lua/renew-generation-1.lua", import.meta.url));

/** What `renewGeneration` replies when Redis is no longer the run the catch-up's commits ran on. */
export const RUN_CHANGED = "run-changed";

/**
 * Names `from` anew on `run` (same layout and label), only if it is still the live state's generation and Redis is
 * still that run — the one the catch-up's commits ran on, learned before the first of them; returns the new
 * generation, null when the generation had changed meanwhile, or RUN_CHANGED when Redis restarted since (it may have
 * lost those commits: the catch-up is to run again).
 */
export async function renewGeneration(
  redis: Redis,
  keys: Pick<LiveKeys, "gen">,
  from: string,
  run: string,
): Promise<string | null | typeof RUN_CHANGED> {
  const [, ...rest] = from.split(":");
  const next = [run, ...rest].join(":");
  const reply = await RENEW_GENERATION.run(redis, [keys.gen], [from, next, run]);
  if (reply === -1) return RUN_CHANGED;
  return reply === 1 ? next : null;
}
