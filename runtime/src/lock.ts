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
// The scripts (`lua/lock-*.lua`) are registered once per connection and sent by sha.
import type { Redis } from "ioredis";
import { redisScript } from "./scripts.ts";

/** Thrown by `check()` (and by a task whose lock was lost while it ran): stop before writing anything else. */
export class LockLostError extends Error {
  override name = "LockLostError";
}

const ACQUIRE = redisScript<number | null>(new URL("./lua/lock-acquire-1.lua", import.meta.url));
const EXTEND = redisScript<number>(new URL("./lua/lock-extend-1.lua", import.meta.url));
const RELEASE = redisScript<number>(new URL("./lua/lock-release-1.lua", import.meta.url));

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
  const { redis, key, ttlMs } = options;
  const token = options.token ?? crypto.randomUUID();

  const lock: Lock = {
    key,
    token,
    async acquire() {
      const grantedAt = await ACQUIRE.run(redis, [key], [token, ttlMs]);
      return grantedAt === null ? null : Number(grantedAt);
    },
    async extend(ms = ttlMs) {
      return (await EXTEND.run(redis, [key], [token, ms])) === 1;
    },
    async release() {
      return (await RELEASE.run(redis, [key], [token])) === 1;
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
