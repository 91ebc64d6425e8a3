import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { createLock, LockLostError } from "../src/lock.ts";

let redis: Awaited<ReturnType<typeof createTestRedis>>;
let key: string;

beforeEach(async () => {
  const prefix = uniqueName("lock");
  redis = await createTestRedis(prefix);
  key = `${prefix}:lock`;
});

afterEach(async () => {
  await redis.cleanup();
});

describe("a token-checked lock", () => {
  it("is held by one holder at a time: a second acquire fails until the first releases", async () => {
    const first = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    const second = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    expect(await first.acquire()).toEqual(expect.any(Number));
    expect(await second.acquire()).toBeNull();
    // Not re-entrant: a holder extends, it does not acquire again.
    expect(await first.acquire()).toBeNull();
    expect(await redis.redis.get(key)).toBe(first.token);
    expect(await first.release()).toBe(true);
    expect(await redis.redis.exists(key)).toBe(0);
    expect(await second.acquire()).toEqual(expect.any(Number));
    expect(await redis.redis.get(key)).toBe(second.token);
  });

  it("answers an acquire with the Redis server's time of the win", async () => {
    const lock = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    const serverMs = async () => {
      const [seconds, micros] = await redis.redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    const before = await serverMs();
    const grantedAt = (await lock.acquire()) as number;
    // Between two readings of the server's clock, however long the calls took.
    expect(grantedAt).toBeGreaterThanOrEqual(before);
    expect(grantedAt).toBeLessThanOrEqual(await serverMs());
  });

  it("lets a non-holder neither extend nor release it", async () => {
    const holder = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    const other = createLock({ redis: redis.redis, key, ttlMs: 60_000 });
    await holder.acquire();
    const ttl = await redis.redis.pttl(key);
    expect(ttl).toBeGreaterThan(9_000);
    expect(ttl).toBeLessThanOrEqual(10_000);
    expect(await other.extend()).toBe(false);
    expect(await other.release()).toBe(false);
    await expect(other.check()).rejects.toBeInstanceOf(LockLostError);
    expect(await redis.redis.get(key)).toBe(holder.token);
    // The failed extension left the holder's time to live as it was, not the other's 60 s.
    expect(await redis.redis.pttl(key)).toBeLessThanOrEqual(10_000);
  });

  it("lets a holder whose lock expired and was taken by another neither extend nor release the new one", async () => {
    const stale = createLock({ redis: redis.redis, key, ttlMs: 100 });
    const next = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    await stale.acquire();
    await sleep(150);
    expect(await redis.redis.exists(key)).toBe(0);
    expect(await next.acquire()).toEqual(expect.any(Number));
    expect(await stale.extend()).toBe(false);
    expect(await stale.release()).toBe(false);
    await expect(stale.check()).rejects.toBeInstanceOf(LockLostError);
    expect(await redis.redis.get(key)).toBe(next.token);
    expect(await redis.redis.pttl(key)).toBeGreaterThan(9_000);
  });

  it("extends the holder's own lock to the time asked", async () => {
    const lock = createLock({ redis: redis.redis, key, ttlMs: 10_000 });
    await lock.acquire();
    expect(await lock.extend(500)).toBe(true);
    expect(await redis.redis.pttl(key)).toBeLessThanOrEqual(500);
    await lock.check();
    expect(await redis.redis.pttl(key)).toBeGreaterThan(9_000);
  });

  it("never lets two holders' tasks interleave", async () => {
    const holders = [0, 1, 2].map(() => createLock({ redis: redis.redis, key, ttlMs: 5_000 }));
    const trace: string[] = [];
    let inside = 0;
    let most = 0;
    let runs = 0;
    await Promise.all(
      holders.map(async (lock, n) => {
        for (let done = 0; done < 5; ) {
          const ran = await lock.withLock(async () => {
            inside += 1;
            most = Math.max(most, inside);
            trace.push(`in ${n}`);
            await sleep(5);
            trace.push(`out ${n}`);
            inside -= 1;
            return true;
          });
          if (ran) {
            done += 1;
            runs += 1;
          } else await sleep(1);
        }
      }),
    );
    expect(runs).toBe(15);
    expect(most).toBe(1);
    // Every entry is followed by the same holder's exit.
    for (let i = 0; i < trace.length; i += 2) expect(trace[i + 1]).toBe(trace[i]?.replace("in", "out"));
    expect(await redis.redis.exists(key)).toBe(0);
  });

  it("stays held through a task longer than its time to live, and is released after", async () => {
    const lock = createLock({ redis: redis.redis, key, ttlMs: 150 });
    const other = createLock({ redis: redis.redis, key, ttlMs: 150 });
    const result = await lock.withLock(async (signal) => {
      for (let i = 0; i < 6; i += 1) {
        await sleep(100);
        expect(await other.acquire()).toBeNull();
      }
      return signal.aborted;
    });
    expect(result).toBe(false);
    expect(await redis.redis.exists(key)).toBe(0);
  });

  it("aborts its task's signal when an extension fails, and rejects with LockLostError", async () => {
    const lock = createLock({ redis: redis.redis, key, ttlMs: 150 });
    let aborted = false;
    const run = lock.withLock(async (signal) => {
      // Another process takes over, as it would after the holder stalled past the time to live.
      await redis.redis.set(key, "another-holder", "PX", 10_000);
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      aborted = signal.aborted;
      return "finished";
    });
    await expect(run).rejects.toBeInstanceOf(LockLostError);
    expect(aborted).toBe(true);
    // The release that follows leaves the other holder's lock alone.
    expect(await redis.redis.get(key)).toBe("another-holder");
  });
});
