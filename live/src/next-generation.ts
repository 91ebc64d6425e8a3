// A rebuild lays out the next generation of the live state beside the current one (`LiveKeys.next()`: the same keys
// under `<prefix>:live-next:`), so the previous generation, if any, keeps answering reads until the rebuild is done;
// then one script drops the previous generation's keys and moves the next one's into place (lua/switch-generation.lua).
//
// Cost: while a rebuild runs Redis holds both generations (up to twice the live state's memory); the switch is one
// call whose work is a few microseconds per key (two keys per lead: its hash and, for a merged root, its aliases), a
// stall every reader and commit waits out once per rebuild.
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

// Its KEYS, ARGV and reply: `lua/switch-generation.lua`.
const SWITCH_GENERATION = redisScript<number>(new URL("./lua/switch-generation.lua", import.meta.url));

/** Every key matching `pattern`, but those in `keep`. */
async function keysMatching(redis: Redis, pattern: string, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
  const found = new Set<string>();
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    for (const key of batch) if (!keep.has(key)) found.add(key);
  } while (cursor !== "0");
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

/** A switch done: how long its script ran (every reader and commit waited that long) and the keys it moved. */
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
  const previous = await keysMatching(redis, keys.pattern, kept(keys));
  const from = `${next.pattern.slice(0, -1)}`;
  const to = `${keys.pattern.slice(0, -1)}`;
  const moves = (await keysMatching(redis, next.pattern, kept(next))).flatMap((key) => [
    key,
    to + key.slice(from.length),
  ]);
  const started = performance.now();
  const reply = await SWITCH_GENERATION.run(
    redis,
    [keys.gen, ...previous, ...moves],
    [building, generation, previous.length, moves.length / 2],
  );
  return reply === 1 ? { ms: performance.now() - started, moved: moves.length / 2 } : null;
}
