// Whether the Redis in use keeps what it acknowledged. The edge answers 202 once an event is in Redis, so that answer
// is only as durable as Redis is: with the append-only file an accepted event survives a crash (everysec: all but the
// last second), with snapshots alone a crash loses every event since the last one, with neither a restart loses all
// of them. `npm start`, `/readyz` and the edge's start-up say which it is; production refuses a Redis without the
// append-only file unless REDIS_VOLATILE_OK=true.
import type { Redis } from "ioredis";
import { serversOf } from "./redis-client.ts";

export interface RedisPersistence {
  /** `appendonly yes`. */
  aof: boolean;
  /** `appendfsync` (always, everysec, no), or null when unknown or the append-only file is off. */
  fsync: string | null;
  /** The snapshot schedule (`save`), "" when off, null when it cannot be read (CONFIG refused). */
  save: string | null;
  /** Without the append-only file: an event acknowledged with 202 may be lost by a Redis crash or restart. */
  volatile: boolean;
  /** One sentence for people. */
  summary: string;
}

function describe(aof: boolean, fsync: string | null, save: string | null): string {
  if (aof) {
    const window =
      fsync === "always" ? "none" : fsync === "no" ? "what the OS had not flushed" : "up to the last second";
    return `append-only file on (appendfsync ${fsync ?? "unknown"}): accepted events survive a Redis crash (lost: ${window})`;
  }
  if (save === "") {
    return "no persistence (appendonly no, no snapshots): a Redis restart loses every event accepted and not yet scored";
  }
  if (save === null) {
    return "no append-only file (appendonly no; snapshots unknown): a Redis crash may lose accepted events not yet scored";
  }
  return `no append-only file, snapshots only (save ${save}): a Redis crash loses the events accepted since the last snapshot`;
}

/** Reads a Redis INFO section's `field:value` lines. */
function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** How much each `appendfsync` may lose, least first. */
const FSYNC_LOSS = ["always", "everysec", "no"];

/**
 * What the Redis in use persists: `CONFIG GET appendonly appendfsync save`, or, where CONFIG is refused (managed
 * Redis often renames it), `INFO persistence` (`aof_enabled`), which does not tell the snapshot schedule. On a Cluster,
 * the master that keeps least, since an event may be accepted on any of them.
 */
export async function redisPersistence(redis: Redis): Promise<RedisPersistence> {
  const each = await Promise.all((await serversOf(redis)).map(serverPersistence));
  const loss = (p: RedisPersistence) => (p.aof ? FSYNC_LOSS.indexOf(p.fsync ?? "everysec") : FSYNC_LOSS.length);
  return each.reduce((worst, p) => (loss(p) > loss(worst) ? p : worst));
}

async function serverPersistence(redis: Redis): Promise<RedisPersistence> {
  let aof: boolean;
  let fsync: string | null = null;
  let save: string | null = null;
  try {
    const flat = (await redis.call("CONFIG", "GET", "appendonly", "appendfsync", "save")) as string[];
    const config = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) config.set(flat[i] as string, flat[i + 1] as string);
    aof = config.get("appendonly") === "yes";
    fsync = aof ? (config.get("appendfsync") ?? null) : null;
    save = config.get("save") ?? null;
  } catch {
    aof = infoFields(await redis.info("persistence")).get("aof_enabled") === "1";
  }
  return { aof, fsync, save, volatile: !aof, summary: describe(aof, fsync, save) };
}

/** Thrown by a process that must not start on the Redis it found (volatileRedisRefusal says why). */
export class VolatileRedisError extends Error {
  override name = "VolatileRedisError";
}

/** Why a process must not start on this Redis, or null: production without the append-only file, unless allowed. */
export function volatileRedisRefusal(
  persistence: RedisPersistence,
  config: { NODE_ENV: string; REDIS_VOLATILE_OK: boolean },
): string | null {
  if (!persistence.volatile || config.NODE_ENV !== "production" || config.REDIS_VOLATILE_OK) return null;
  return (
    `Redis has ${persistence.summary}. With NODE_ENV=production the edge does not accept events a crash could lose: ` +
    "turn on the append-only file (appendonly yes), or set REDIS_VOLATILE_OK=true to accept the risk."
  );
}
