// Node entry point of the scoring worker: parse config, start consuming, stop cleanly on SIGTERM/SIGINT.
import { parseConfigOrExit, WorkerConfigSchema } from "@leadscore/contracts";
import { createPartitionedReader } from "@leadscore/live";
import { createLogger, createRedis } from "@leadscore/runtime";
import { removeStaleLeadEventFolders } from "./lead-event-folders.ts";
import { createScorePublisher } from "./publisher.ts";
import { createWorker, type Worker } from "./worker.ts";

const config = parseConfigOrExit("worker", WorkerConfigSchema, process.env, (code) => process.exit(code));
const log = createLogger("worker", config.LOG_LEVEL);

// The publisher has a connection of its own, so its leaderboard reads and emits never queue behind scoring.
const publisherRedis = createRedis(config);
publisherRedis.on("error", (error: Error) => log.warn("publisher redis error", { error: error.message }));
const publisher = createScorePublisher({
  redis: publisherRedis,
  live: createPartitionedReader({
    redis: publisherRedis,
    redisPrefix: config.REDIS_PREFIX,
    partitions: config.LEAD_PARTITIONS,
    cap: config.SCORE_CAP,
    thresholds: config.STAGE_THRESHOLDS,
    // The leaderboard goes out with the scores decayed to the instant it is read, with the worker's half-life.
    halfLife: () => worker?.halfLife() ?? null,
  }),
  redisPrefix: config.REDIS_PREFIX,
  log,
});

// What earlier processes killed while they sorted (a preview's, a re-score's, a rebuild's) left in the temporary folder.
const removed = await removeStaleLeadEventFolders().catch(() => []);
if (removed.length > 0) log.warn("removed the folders of processes killed while they sorted", { folders: removed });

let worker: Worker | undefined;
worker = await createWorker(config, log, { publisher });
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
  await publisherRedis.quit().catch(() => undefined);
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
