// Node entry point of the scoring worker: parse config, start consuming, stop cleanly on SIGTERM/SIGINT.
import { ConfigError, createLogger, parseConfig, type WorkerConfig, WorkerConfigSchema } from "@leadscore/contracts";
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
const worker = await createWorker(config, log);
await worker.start();
log.info("worker ready");

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("worker shutting down", { signal });
  await worker.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
