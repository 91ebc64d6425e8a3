// A rebuild lays out the next generation of the live state beside the current one (`LiveKeys.next()`: the same keys
// under `<prefix>:live-next:`), so the previous generation, if any, keeps answering reads until the rebuild is done;
// then it switches (lua/switch-generation.lua): the leads' own keys move into place in calls of SWITCH_STEP leads,
// then one last call drops what is left of the previous generation, moves the indexes, search texts and identity map
// and names the new generation. Lists, ranks and counts read the indexes, so they switch in that one step; a lead's
// page read during the steps before it (a fraction of a second) may show its rebuilt state early.
//
// Cost: while a rebuild runs Redis holds both generations (up to twice the live state's memory); the switch is
// a few microseconds of Redis per key moved, in calls that each stay short whatever the number of leads.
import { redisScript, serversOf } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

/** Leads' own keys moved per call before the last: a call of a few milliseconds. */
const SWITCH_STEP = 500;

// Its KEYS, ARGV and reply: `lua/switch-generation.lua`.
const SWITCH_GENERATION = redisScript<number>(new URL("./lua/switch-generation.lua", import.meta.url));

/** Every key matching `pattern`, but those in `keep` (on a Cluster, each master lists only its own keys). */
async function keysMatching(redis: Redis, pattern: string, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
  const found = new Set<string>();
  for (const server of await serversOf(redis)) {
    let cursor = "0";
    do {
      const [next, batch] = await server.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      for (const key of batch) if (!keep.has(key)) found.add(key);
    } while (cursor !== "0");
  }
  return [...found];
}

/** Deletes what an earlier rebuild that did not finish left of a next generation; returns the keys deleted. */
export async function clearNextGeneration(redis: Redis, keys: LiveKeys): Promise<number> {
  const leftover = await keysMatching(redis, keys.next().pattern);
  let deleted = 0;
  for (let from = 0; from < leftover.length; from += 1000)
    deleted += await redis.unlink(...leftover.slice(from, from + 1000));
  return deleted;
}

/** The live keys a switch keeps: the generation itself and the locks, which belong to no generation. */
const kept = (keys: LiveKeys) => new Set([keys.gen, keys.rebuildLock, keys.deepLock]);

/**
 * A switch done: how long its longest call ran (every reader and commit waited that long) and the keys it moved.
 */
export interface Switched {
  ms: number;
  moved: number;
}

/**
 * Makes the next generation the live state and names it `generation`, if the live state's generation is still
 * `building` (the rebuild's own mark); null when it was not.
 */
export async function switchGeneration(
  redis: Redis,
  keys: LiveKeys,
  building: string,
  generation: string,
): Promise<Switched | null> {
  const next = keys.next();
  const from = next.pattern.slice(0, -1);
  const to = keys.pattern.slice(0, -1);
  const pairs = (await keysMatching(redis, next.pattern, kept(next))).map((key) => [key, to + key.slice(from.length)]);
  const destinations = new Set(pairs.map(([, key]) => key));
  // Keys of the previous generation the next one does not overwrite (a lead no longer there, the deep lane's lists).
  const previous = (await keysMatching(redis, keys.pattern, kept(keys))).filter((key) => !destinations.has(key));
  // A lead's own keys carry its id as a hash tag after the area (the prefix may carry one of its own, on a Cluster);
  // the rest (indexes, search texts, the identity map) are few.
  const ownKey = (key: string) => key.slice(from.length).includes("{");
  const own = pairs.filter(([key]) => ownKey(key as string));
  const shared = pairs.filter(([key]) => !ownKey(key as string));
  let longest = 0;
  const step = async (drop: string[], moves: string[][], name: string) => {
    const started = performance.now();
    const reply = await SWITCH_GENERATION.run(
      redis,
      [keys.gen, ...drop, ...moves.flat()],
      [building, name, drop.length, moves.length],
    );
    longest = Math.max(longest, performance.now() - started);
    return reply === 1;
  };
  for (let at = 0; at < own.length; at += SWITCH_STEP) {
    if (!(await step([], own.slice(at, at + SWITCH_STEP), ""))) return null;
  }
  // An index renamed over would be freed in the call; unlinked first, Redis frees it in the background.
  if (!(await step([...previous, ...shared.map(([, key]) => key as string)], shared, generation))) return null;
  return { ms: longest, moved: pairs.length };
}
