// Node entry point of the scoring worker: parse config, start consuming, stop cleanly on SIGTERM/SIGINT.
import {
  ConfigError,
  createLogger,
  mongoDatabaseName,
  parseConfig,
  type WorkerConfig,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";
import { createScorePublisher } from "./publisher.ts";
import { createWorker } from "./worker.ts";

let config: WorkerConfig;
try {
  config = parseConfig(WorkerConfigSchema, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`worker: ${error.message}`);
  process.exit(2);
}
const log = createLogger("worker", config.LOG_LEVEL);

// The publisher has connections of its own, so its PUBLISHes and leaderboard reads never queue behind scoring.
const publisherRedis = new Redis(config.REDIS_URL);
publisherRedis.on("error", (error: Error) => log.warn("publisher redis error", { error: error.message }));
const publisherMongo = new MongoClient(config.MONGO_URL, { maxPoolSize: 2 });
const publisher = createScorePublisher({
  redis: publisherRedis,
  db: publisherMongo.db(mongoDatabaseName(config.MONGO_URL)),
  redisPrefix: config.REDIS_PREFIX,
  log,
});

const worker = await createWorker(config, log, { publisher });
await worker.start();
log.info("worker ready");

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("worker shutting down", { signal });
  await worker.close();
  // After the worker: its last jobs publish their changes, then the final leaderboard goes out.
  await publisher.close();
  await Promise.allSettled([publisherRedis.quit(), publisherMongo.close()]);
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
