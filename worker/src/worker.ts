import { type Logger, mongoDatabaseName, type WorkerConfig } from "@leadscore/contracts";
import { Redis } from "ioredis";
import { MongoClient } from "mongodb";

/** The scoring worker: consumes the events queue and is the only writer of scores and history. */
export async function createWorker(config: WorkerConfig, log: Logger) {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true });
  redis.on("error", (error: Error) => log.warn("redis error", { error: error.message }));
  const mongo = new MongoClient(config.MONGO_URL);
  return {
    async start() {
      await redis.connect();
      await mongo.connect();
      await mongo.db(mongoDatabaseName(config.MONGO_URL)).command({ ping: 1 });
    },
    async close() {
      redis.disconnect();
      await mongo.close();
    },
  };
}
