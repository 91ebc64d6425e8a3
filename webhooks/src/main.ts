// Node entry point of the webhook dispatcher: parse config, dispatch, serve metrics, stop cleanly on SIGTERM/SIGINT.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DispatcherConfigSchema, parseConfigOrExit } from "@leadscore/contracts";
import { createLogger, createRedis } from "@leadscore/runtime";
import { createDispatcher } from "./dispatcher.ts";

const config = parseConfigOrExit("dispatcher", DispatcherConfigSchema, process.env, (code) => process.exit(code));
const log = createLogger("dispatcher", config.LOG_LEVEL);
const redis = createRedis(config);
redis.on("error", (error: Error) => log.warn("redis error", { error: error.message }));

const dispatcher = createDispatcher({
  redis,
  redisPrefix: config.REDIS_PREFIX,
  partitions: config.LEAD_PARTITIONS,
  log,
  timeoutMs: config.WEBHOOK_TIMEOUT_MS,
  retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS,
  retryForMs: config.WEBHOOK_RETRY_FOR_MS,
  concurrency: config.WEBHOOK_CONCURRENCY,
  perSubscription: config.WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION,
  logSize: config.WEBHOOK_LOG_SIZE,
  disableAfterMs: config.WEBHOOK_DISABLE_AFTER_MS,
  maxPending: config.WEBHOOK_MAX_PENDING,
  allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
});
dispatcher.start();

const metrics = createServer((request, response) => {
  if (request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
    void dispatcher.renderMetrics().then((text) => {
      response.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      response.end(text);
    });
    return;
  }
  response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  response.end("not found\n");
});
if (config.DISPATCHER_METRICS_PORT !== undefined) {
  metrics.listen(config.DISPATCHER_METRICS_PORT, () =>
    log.info("dispatcher metrics listening", { port: (metrics.address() as AddressInfo).port }),
  );
}
log.info("dispatcher ready");

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("dispatcher shutting down", { signal });
  metrics.close();
  await dispatcher.close();
  await redis.quit().catch(() => undefined);
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
