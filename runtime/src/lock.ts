// One lock for the work only one process may do at a time (the deep lane, a rebuild, the leaderboard emit): a Redis
// key holding its holder's random token, with a time to live so a holder that dies frees it. Acquire, extend and
// release are each one script that checks the token, so a holder whose lock expired and was taken by another can
// neither extend nor delete the new holder's lock, and no step can interleave with another holder's.
//
// Expiry is what makes a lock safe against a dead holder, and what makes a slow one dangerous: a holder paused past
// the time to live (a long MongoDB read, a stalled process) no longer holds it, but does not know. So a holder
// - keeps the lock alive while it works (`keepAlive`: an extension every third of the time to live), and when an
//   extension fails it aborts its signal, which stops MongoDB reads given that signal;
// - calls `check()` before each write: an extension that throws `LockLostError` when the lock is no longer its own.
//   A write sent right after a successful check lands while the lock is still held for a whole time to live.
// Web APIs only (the edge imports this package); the scripts are registered once per connection and sent by sha.
import type { Redis } from "ioredis";

/** Thrown by `check()` (and by a task whose lock was lost while it ran): stop before writing anything else. */
export class LockLostError extends Error {
  override name = "LockLostError";
}

// KEYS: the lock. ARGV: token, ttl ms.
// Reply: Redis server time of the win (epoch ms), or nil when the lock is held (by anyone, this token included: a
// holder extends, it does not acquire again). Guarantee: at most one token holds the key at any time.
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local now = redis.call('TIME')
return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
`;

// KEYS: the lock. ARGV: token, ttl ms. Reply: 1 when the lock is the token's and now lasts ttl ms from now, else 0
// (expired, or another's: left as it is).
const EXTEND = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

// KEYS: the lock. ARGV: token. Reply: 1 when the token's lock was deleted, else 0 (another's is left as it is).
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const SCRIPTS = { leadscoreLockAcquire: ACQUIRE, leadscoreLockExtend: EXTEND, leadscoreLockRelease: RELEASE };

interface LockRedis extends Redis {
  leadscoreLockAcquire(key: string, token: string, ttlMs: number): Promise<number | null>;
  leadscoreLockExtend(key: string, token: string, ttlMs: number): Promise<number>;
  leadscoreLockRelease(key: string, token: string): Promise<number>;
}

function scripted(redis: Redis): LockRedis {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] !== "function") {
      redis.defineCommand(name, { lua, numberOfKeys: 1 });
    }
  }
  return redis as LockRedis;
}

export interface LockOptions {
  redis: Redis;
  key: string;
  /** How long the lock outlives its holder's last acquire or extension. */
  ttlMs: number;
  /** The holder's token; a fresh random one by default. */
  token?: string;
}

export interface Lock {
  readonly key: string;
  readonly token: string;
  /** Takes the lock if it is free: the Redis server time of the win (epoch ms), or null when it is held. */
  acquire(): Promise<number | null>;
  /** Makes the lock last `ttlMs` (default: the lock's) from now, if it is still this holder's; whether it was. */
  extend(ttlMs?: number): Promise<boolean>;
  /** Deletes the lock if it is still this holder's; whether it was. */
  release(): Promise<boolean>;
  /** Extends the lock, or throws LockLostError: call it before each write. */
  check(): Promise<void>;
  /**
   * Runs `task` with the lock (already held) extended every third of its time to live. When an extension fails,
   * `signal` aborts (pass it to long reads) and the result rejects with LockLostError once the task ends.
   */
  keepAlive<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Acquires the lock, runs `task` under `keepAlive` and releases it; null (task not run) when another holds it. */
  withLock<T>(task: (signal: AbortSignal) => Promise<T>): Promise<T | null>;
}

export function createLock(options: LockOptions): Lock {
  const redis = scripted(options.redis);
  const { key, ttlMs } = options;
  const token = options.token ?? crypto.randomUUID();

  const lock: Lock = {
    key,
    token,
    async acquire() {
      const grantedAt = await redis.leadscoreLockAcquire(key, token, ttlMs);
      return grantedAt === null ? null : Number(grantedAt);
    },
    async extend(ms = ttlMs) {
      return (await redis.leadscoreLockExtend(key, token, ms)) === 1;
    },
    async release() {
      return (await redis.leadscoreLockRelease(key, token)) === 1;
    },
    async check() {
      if (!(await lock.extend())) throw new LockLostError(`lock ${key} is no longer held by this process`);
    },
    async keepAlive(task) {
      const controller = new AbortController();
      const lost = () => controller.abort(new LockLostError(`lock ${key} was lost while its holder worked`));
      const renew = setInterval(() => {
        // A failed call (Redis unreachable) counts as lost too: the lock may expire before the next one succeeds.
        lock.extend().then((held) => held || lost(), lost);
      }, ttlMs / 3);
      try {
        const result = await task(controller.signal);
        if (controller.signal.aborted) throw controller.signal.reason;
        return result;
      } catch (error) {
        throw controller.signal.aborted ? controller.signal.reason : error;
      } finally {
        clearInterval(renew);
      }
    },
    async withLock(task) {
      if ((await lock.acquire()) === null) return null;
      try {
        return await lock.keepAlive(task);
      } finally {
        await lock.release().catch(() => false);
      }
    },
  };
  return lock;
}
