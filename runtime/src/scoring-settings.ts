// The deployment's scoring settings beside the rules: today the score's half-life (`half_life_seconds`, null: no
// decay). Stored in MongoDB's `meta` (one document, read by `_id`), so a rebuild of the live state folds with it; held
// in memory by every process that folds or reads scores, reloaded when the admin API announces a change on the
// settings channel (within a second, as rule changes) and periodically in case a message was lost. The processes that
// read MongoDB keep a copy in Redis (`scoringSettingsKey`), for the realtime tier, which reads scores without MongoDB.
import { COLLECTIONS } from "@leadscore/contracts";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import type { Logger } from "./log.ts";

/** `_id` of the `meta` document holding the scoring settings. */
export const SCORING_SETTINGS = "scoring";

export interface ScoringSettings {
  /** Seconds for a score to halve between events; null: scores do not decay. */
  half_life_seconds: number | null;
}

interface ScoringSettingsDocument extends ScoringSettings {
  _id: typeof SCORING_SETTINGS;
  at: Date;
}

export const DEFAULT_SCORING_SETTINGS: ScoringSettings = { half_life_seconds: null };

/** The channel a settings change is announced on. */
export function scoringChannel(prefix: string): string {
  return `${prefix}:scoring-changed`;
}

/** Redis's copy of the settings in force: JSON, written by the processes that read them from MongoDB. */
export function scoringSettingsKey(prefix: string): string {
  return `${prefix}:scoring`;
}

/** Writes Redis's copy of the settings. */
export async function mirrorScoringSettings(redis: Redis, prefix: string, settings: ScoringSettings): Promise<void> {
  await redis.set(scoringSettingsKey(prefix), JSON.stringify({ half_life_seconds: settings.half_life_seconds }));
}

/** Redis's copy of the settings (the defaults where there is none yet). */
export async function readMirroredScoringSettings(redis: Redis, prefix: string): Promise<ScoringSettings> {
  const stored = await redis.get(scoringSettingsKey(prefix));
  if (stored === null) return { ...DEFAULT_SCORING_SETTINGS };
  const { half_life_seconds } = JSON.parse(stored) as Partial<ScoringSettings>;
  return { half_life_seconds: typeof half_life_seconds === "number" ? half_life_seconds : null };
}

/** The settings in force (the defaults where none were ever written). */
export async function readScoringSettings(db: Db): Promise<ScoringSettings> {
  const doc = await db
    .collection<ScoringSettingsDocument>(COLLECTIONS.meta)
    .findOne({ _id: SCORING_SETTINGS } as Partial<ScoringSettingsDocument>);
  return doc ? { half_life_seconds: doc.half_life_seconds ?? null } : { ...DEFAULT_SCORING_SETTINGS };
}

/** Writes the settings in force. */
export async function writeScoringSettings(db: Db, settings: ScoringSettings, at: Date): Promise<void> {
  await db
    .collection<ScoringSettingsDocument>(COLLECTIONS.meta)
    .replaceOne(
      { _id: SCORING_SETTINGS } as Partial<ScoringSettingsDocument>,
      { half_life_seconds: settings.half_life_seconds, at },
      { upsert: true },
    );
}

export interface ScoringSettingsCache {
  /** The half-life in force (seconds), or null without decay. */
  halfLife(): number | null;
  reload(): Promise<void>;
  /** Loads, subscribes and starts the periodic reload. */
  start(): Promise<void>;
  close(): void;
}

export interface ScoringSettingsCacheOptions {
  /**
   * Where the settings are read: MongoDB, their record (copied into Redis at every load when `redis` is given too), or
   * without it Redis's copy, from `redis`.
   */
  db?: Db;
  redis?: Redis;
  /** A connection this cache may put in subscriber mode (it may be shared with other channels' listeners). */
  subscriber: Redis;
  redisPrefix: string;
  log: Logger;
  reloadIntervalMs?: number;
}

export function createScoringSettingsCache(options: ScoringSettingsCacheOptions): ScoringSettingsCache {
  const { db, redis, subscriber, log, redisPrefix } = options;
  const channel = scoringChannel(redisPrefix);
  let settings = DEFAULT_SCORING_SETTINGS;
  let timer: ReturnType<typeof setInterval> | undefined;
  const load = async (): Promise<ScoringSettings> => {
    if (db === undefined) {
      if (redis === undefined) throw new Error("scoring settings need a database or a Redis copy to read");
      return readMirroredScoringSettings(redis, redisPrefix);
    }
    const read = await readScoringSettings(db);
    if (redis !== undefined) await mirrorScoringSettings(redis, redisPrefix, read);
    return read;
  };
  const reload = async () => {
    settings = await load();
  };
  const reloadLogged = () =>
    reload().catch((error: Error) =>
      log.warn("scoring settings reload failed; keeping the previous ones", { error: error.message }),
    );
  subscriber.on("message", (from: string) => {
    if (from === channel) void reloadLogged();
  });
  return {
    halfLife: () => settings.half_life_seconds,
    reload,
    async start() {
      await subscriber.subscribe(channel);
      // Started before the first read: a process that could not read the settings yet reads them on the next turn.
      timer = setInterval(() => void reloadLogged(), options.reloadIntervalMs ?? 5_000);
      (timer as { unref?: () => void }).unref?.();
      await reload();
    },
    close() {
      clearInterval(timer);
    },
  };
}
