import type { EdgeConfig } from "@leadscore/contracts";
import type { LiveReader } from "@leadscore/live";
import type { Logger, ScoringSettingsCache } from "@leadscore/runtime";
import type { Queue } from "bull";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import type { Ingestion } from "./ingest/index.ts";

/** Everything the edge app needs from the outside world; entry points build it, tests build their own. */
export interface AppDeps {
  config: EdgeConfig;
  redis: Redis;
  /**
   * A connection of its own for the searches' Redis steps, so that the hot paths' commands (a dedupe claim, a live
   * read) never wait on one connection behind a search's replies; absent: `redis`.
   */
  searchRedis?: Redis;
  /** The durable record: written append-only here (profiles, rules), read only off the hot paths (older history). */
  db: Db;
  /** The live state in Redis: every read route's scores, ranks, indexes and newest history. */
  live: LiveReader;
  /**
   * The scoring settings this process reads with (the half-life `live` decays scores with), reloaded at once after
   * this process changes them; absent: read without decay.
   */
  scoring?: ScoringSettingsCache;
  /** The events queue (with lead partitions: partition 0's, which merges also go to). */
  queue: Queue;
  /** Each lead partition's events queue, `queue` first; absent: `[queue]` (one partition). */
  partitionQueues?: Queue[];
  log: Logger;
  /** Epoch ms; injectable so tests can pin time. */
  now?: () => number;
  /** Ingestion machinery; the runtime passes its own so it can drain pending batches on shutdown. */
  ingestion?: Ingestion;
  /** Reads a file of the built dashboard (relative to `config.WEB_DIST`); absent: the dashboard is not served. */
  readStatic?: (path: string) => Promise<Uint8Array<ArrayBuffer> | null>;
}
