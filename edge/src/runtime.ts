import { type EdgeConfig, mongoDatabaseName } from "@leadscore/contracts";
import { createPartitionedReader, idleArchiveOf } from "@leadscore/live";
import {
  createMissingIndexes,
  createQueue,
  createRedis,
  createScoringSettingsCache,
  EVENTS_QUEUE,
  type Logger,
  partitionPrefixes,
  RECONNECT,
  redisPersistence,
  seedDefaultRules,
  VolatileRedisError,
  volatileRedisRefusal,
} from "@leadscore/runtime";
import { MongoClient } from "mongodb";
import { createApp } from "./app.ts";
import type { AppDeps } from "./deps.ts";
import { createDedupeSweeper } from "./ingest/dedupe-sweeper.ts";
import { createIngestion } from "./ingest/index.ts";

/** Builds the edge's clients and app from a parsed config; the entry points only add a server and signals. */
export async function createEdgeRuntime(
  config: EdgeConfig,
  log: Logger,
  /** What only the runtime can provide, e.g. `readStatic` from its file system. */
  extra: Pick<AppDeps, "readStatic"> = {},
) {
  const redis = createRedis(config, {
    // Fail fast instead of buffering while Redis is away, so ingestion can answer 503 at once.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
    ...RECONNECT,
  });
  redis.on("error", (error: Error) => log.warn("redis error", { error: error.message }));
  const reachable = await redis.connect().then(
    () => true,
    (error: Error) => {
      log.warn("redis not reachable yet", { error: error.message });
      return false;
    },
  );
  // Said at start; production refuses a Redis that could lose accepted events. A Redis not reachable yet is judged
  // by /readyz, which stays 503 until it is one this edge may accept events on.
  if (reachable) {
    const persistence = await redisPersistence(redis);
    const refusal = volatileRedisRefusal(persistence, config);
    if (refusal !== null) {
      redis.disconnect();
      throw new VolatileRedisError(refusal);
    }
    if (persistence.volatile) log.warn("redis persistence", { persistence: persistence.summary });
    else log.info("redis persistence", { persistence: persistence.summary });
  }

  const searchRedis = redis.duplicate();
  searchRedis.on("error", (error: Error) => log.warn("redis error", { error: error.message }));
  // Like `redis`, it reconnects by itself once Redis answers, if it does not yet.
  await searchRedis.connect().catch(() => undefined);

  const mongo = new MongoClient(config.MONGO_URL, { serverSelectionTimeoutMS: 2000 });
  await mongo.connect().catch((error: Error) => log.warn("mongodb not reachable yet", { error: error.message }));
  const db = mongo.db(mongoDatabaseName(config.MONGO_URL));
  // In the background: a MongoDB that is still starting must not hold up ingestion. A failure is logged, not fatal:
  // the edge still ingests while MongoDB is away, and the worker creates the indexes too.
  void createMissingIndexes(db, log).catch((error: Error) => log.warn("indexes not created", { error: error.message }));
  // Likewise the default rules, which the worker seeds too: /readyz waits for them, so an edge started alone gets
  // ready without a worker.
  void seedDefaultRules(db).catch((error: Error) => log.warn("default rules not seeded", { error: error.message }));

  // One events queue per lead partition, in its slot (one, under REDIS_PREFIX, without partitions).
  const prefixes = partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS);
  const partitionQueues = prefixes.map((prefix) => createQueue(EVENTS_QUEUE, config, { prefix, redis: RECONNECT }));
  for (const each of partitionQueues)
    each.on("error", (error: Error) => log.warn("queue error", { error: error.message }));
  const queue = partitionQueues[0] as (typeof partitionQueues)[number];

  const ingestion = createIngestion({ config, redis, queue, partitionQueues, log });
  const sweeper = createDedupeSweeper({
    redis,
    prefix: config.REDIS_PREFIX,
    partitions: prefixes,
    buckets: config.DEDUPE_BUCKETS,
    windowSeconds: config.DEDUPE_TTL_SECONDS,
    log,
  });
  sweeper.start();
  // Reads decay scores with the half-life in force, announced on its channel as rule changes are.
  const subscriber = createRedis(config);
  subscriber.on("error", (error: Error) => log.warn("redis subscriber error", { error: error.message }));
  const scoring = createScoringSettingsCache({ db, subscriber, redisPrefix: config.REDIS_PREFIX, log });
  // Not awaited: a subscription waits for Redis, and the edge listens (answering 503 where Redis is needed) while Redis
  // is away; the settings are read within the first turn of the cache once it is reachable.
  void scoring.start().catch((error: Error) => log.warn("scoring settings not read yet", { error: error.message }));
  const live = createPartitionedReader({
    redis,
    // An idle lead's history comes back from MongoDB on read (one `_id` read; live/src/idle.ts).
    idleArchive: idleArchiveOf(db),
    redisPrefix: config.REDIS_PREFIX,
    partitions: config.LEAD_PARTITIONS,
    cap: config.SCORE_CAP,
    thresholds: config.STAGE_THRESHOLDS,
    halfLife: scoring.halfLife,
  });
  const deps: AppDeps = {
    config,
    redis,
    searchRedis,
    db,
    live,
    scoring,
    queue,
    partitionQueues,
    log,
    ingestion,
    ...extra,
  };
  const app = createApp(deps);

  return {
    app,
    deps,
    /** Sends pending micro-batches; call after the server stopped taking requests. */
    flush: () => ingestion.flush(),
    async close() {
      await sweeper.stop();
      await ingestion.flush();
      await Promise.all(partitionQueues.map((each) => each.close().catch(() => undefined)));
      scoring.close();
      subscriber.disconnect();
      redis.disconnect();
      searchRedis.disconnect();
      await mongo.close().catch(() => undefined);
    },
  };
}
