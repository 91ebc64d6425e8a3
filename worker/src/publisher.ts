// Delivers committed score changes to every realtime instance through Redis (Socket.io emitter messages on the
// channels the instances' Redis adapter listens to), and keeps the leaderboard fresh without flooding dashboards.
//
// `score_update` goes to `lead:<id>` only, published by the commit script itself (`encodeScoreUpdates` builds its
// messages), so a change and its update leave Redis together. Every socket sits in the `leaderboard` room, so sending
// each change there too would cost events × dashboards messages; that room gets the top leads instead, coalesced to
// one emit per LEADERBOARD_INTERVAL_MS across all worker processes:
// - each publish marks the leaderboard dirty in Redis, after the change is committed;
// - a lock (runtime/src/lock.ts) elects one publisher to read the top leads and emit them; it holds the lock while
//   reading and for LEADERBOARD_INTERVAL_MS after the emit, so two emits are never closer than that on Redis's clock,
//   which times the lock out (the script that takes the lock reads that clock too, so the times of the wins show it);
//   a publisher checks the lock is still its own before the emit, so one that lost it mid-read emits nothing (and
//   puts the mark back for the holder);
// - a publisher whose change is still unhandled keeps retrying when the lock frees, until it wins: then either it
//   finds the mark and emits, or another publisher took the mark after the change and emitted. Either way the last
//   change of a burst is followed by an emit that reads it (the trailing edge).
import {
  LEADERBOARD_INTERVAL_MS,
  LEADERBOARD_ROOM,
  LEADERBOARD_SIZE,
  type LeaderboardUpdate,
  leadRoom,
  realtimeChannelKey,
  type ScorePublisher,
  type ScoreUpdate,
  type ServerToClientEvents,
} from "@leadscore/contracts";
import type { LiveReader } from "@leadscore/live";
import { createLock, LockLostError, type Logger } from "@leadscore/runtime";
import { Emitter } from "@socket.io/redis-emitter";
import type { Redis } from "ioredis";

export interface ScorePublisherOptions {
  /** A Redis connection the publisher may use for PUBLISH and its lock (not one in subscriber mode). */
  redis: Redis;
  /** The live state, read for the leaderboard. */
  live: Pick<LiveReader, "leaderboardEntries">;
  redisPrefix: string;
  log: Logger;
  /** Smallest gap between two leaderboard emits (tests may shorten it). */
  leaderboardIntervalMs?: number;
  leaderboardSize?: number;
  /** Told of each leaderboard emit once Redis has taken it for every realtime instance. */
  onLeaderboardEmit?: (emit: LeaderboardEmit) => void;
}

export interface LeaderboardEmit {
  /** Redis server time (epoch ms) at which this publisher won the lock for the emit. */
  grantedAt: number;
  update: LeaderboardUpdate;
}

export interface RedisScorePublisher extends ScorePublisher {
  publish(updates: ScoreUpdate[]): Promise<void>;
  /** Stops scheduling; waits for a leaderboard emit in progress. Does not close the Redis client. */
  close(): Promise<void>;
}

/** How long a publisher may hold the leaderboard lock while reading, should it die before releasing it. */
const LOCK_GUARD_MS = 5_000;

export function leaderboardKeys(redisPrefix: string) {
  return { lock: `${redisPrefix}:leaderboard:tick`, dirty: `${redisPrefix}:leaderboard:dirty` };
}

/**
 * The Socket.io Redis emitter messages that deliver each update to its lead's room, by lead id (a lead's messages in
 * the order of its updates): `[channel, message]` pairs for a PUBLISH each, as the emitter itself would send them.
 * `emitterKey` is the adapter's key, `realtimeChannelKey(redisPrefix)`.
 */
export function encodeScoreUpdates(
  emitterKey: string,
  updates: readonly ScoreUpdate[],
): Map<string, [string, Buffer][]> {
  const captured: [string, Buffer][] = [];
  const sink = {
    publish(channel: string, message: string | Buffer) {
      captured.push([channel, typeof message === "string" ? Buffer.from(message) : message]);
    },
  };
  const emitter = new Emitter<ServerToClientEvents>(sink, { key: emitterKey });
  const messages = new Map<string, [string, Buffer][]>();
  for (const update of updates) {
    captured.length = 0;
    emitter.to(leadRoom(update.lead_id)).emit("score_update", update);
    const list = messages.get(update.lead_id) ?? [];
    list.push(...captured);
    messages.set(update.lead_id, list);
  }
  return messages;
}

/** The Socket.io Redis emitter messages telling `from`'s room that it was merged into `into`. */
export function encodeLeadMerged(emitterKey: string, from: string, into: string): [string, Buffer][] {
  const captured: [string, Buffer][] = [];
  const sink = {
    publish(channel: string, message: string | Buffer) {
      captured.push([channel, typeof message === "string" ? Buffer.from(message) : message]);
    },
  };
  new Emitter<ServerToClientEvents>(sink, { key: emitterKey }).to(leadRoom(from)).emit("lead_merged", {
    lead_id: from,
    into,
  });
  return captured;
}

export function createScorePublisher(options: ScorePublisherOptions): RedisScorePublisher {
  const { redis, live, log } = options;
  const intervalMs = options.leaderboardIntervalMs ?? LEADERBOARD_INTERVAL_MS;
  const size = options.leaderboardSize ?? LEADERBOARD_SIZE;
  const keys = leaderboardKeys(options.redisPrefix);
  // Acquiring answers with the server's time of the win, no earlier than the interval after the previous emit.
  const lock = createLock({ redis, key: keys.lock, ttlMs: LOCK_GUARD_MS });

  // The emitter only calls `publish` and drops its promise; handing it this sink instead lets each caller await its
  // messages, so a Redis failure is logged rather than surfacing as an unhandled rejection.
  let sent: Promise<unknown>[] = [];
  const sink = {
    publish(channel: string, message: string | Buffer) {
      const reply = redis.publish(channel, message);
      sent.push(reply);
      return reply;
    },
  };
  const emitter = new Emitter<ServerToClientEvents>(sink, { key: realtimeChannelKey(options.redisPrefix) });
  const flushSent = () => {
    const replies = sent;
    sent = [];
    return Promise.all(replies);
  };

  /** Publishes that have marked the leaderboard dirty, and how many of them an emit is known to cover. */
  let marked = 0;
  let handled = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let closed = false;

  /** One attempt at the lock; resolves with the delay before the next attempt, should changes remain unhandled. */
  const tick = async (): Promise<number> => {
    const covering = marked;
    try {
      const grantedAt = await lock.acquire();
      // Held: by one that has emitted (the lock then lasts the interval) or is still reading (it lasts up to the
      // guard, so look again after the interval rather than wait the guard out).
      if (grantedAt === null) return Math.min(Math.max(await redis.pttl(keys.lock), 1), intervalMs);
      try {
        if (await redis.getdel(keys.dirty)) {
          const update = { top: await live.leaderboardEntries(size) };
          try {
            await lock.check();
          } catch (error) {
            // Lost while reading (held past the guard): the holder now emits, so it must find the mark.
            if (error instanceof LockLostError) await redis.set(keys.dirty, "1", "PX", LOCK_GUARD_MS * 12);
            throw error;
          }
          emitter.to(LEADERBOARD_ROOM).emit("leaderboard", update);
          await flushSent();
          options.onLeaderboardEmit?.({ grantedAt, update });
        }
        // Our marks up to `covering` were set before the GETDEL: either this emit read the leads after them, or the
        // publisher that took the mark first is reading after them.
        handled = covering;
      } finally {
        // Shortens the lock to the interval after the emit, if it is still ours (the guard may have expired).
        await lock.extend(intervalMs);
      }
      return intervalMs;
    } catch (error) {
      if (error instanceof LockLostError) {
        log.warn("leaderboard lock lost before the emit: left to its holder", { error: error.message });
        return intervalMs;
      }
      log.warn("leaderboard publish failed", { error: (error as Error).message });
      return intervalMs;
    }
  };

  const schedule = (delayMs: number) => {
    if (closed || timer || running) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = tick().then((next) => {
        running = undefined;
        if (marked > handled) schedule(next);
      });
    }, delayMs);
  };

  return {
    async publish(updates) {
      if (updates.length === 0) return;
      try {
        await redis.set(keys.dirty, "1", "PX", LOCK_GUARD_MS * 12);
        marked += 1;
        schedule(0);
      } catch (error) {
        // The scores are committed already; the leaderboard catches up with the next change.
        log.warn("leaderboard mark failed", { error: (error as Error).message, updates: updates.length });
      }
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await running;
      // A few last attempts, so the final changes of a stopping worker still reach the leaderboard.
      for (let attempt = 0; attempt < 3 && marked > handled; attempt += 1) {
        const next = await tick();
        if (marked > handled) await new Promise((resolve) => setTimeout(resolve, Math.min(next, intervalMs)));
      }
    },
  };
}
