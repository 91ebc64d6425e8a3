// Node entry point of a realtime (Socket.io) instance: parse config, listen, stop cleanly on SIGTERM/SIGINT.
import { parseConfigOrExit, RealtimeConfigSchema } from "@leadscore/contracts";
import { createLogger } from "@leadscore/runtime";
import { createRealtimeServer } from "./server.ts";

const config = parseConfigOrExit("realtime", RealtimeConfigSchema, process.env, (code) => process.exit(code));
const log = createLogger("realtime", config.LOG_LEVEL);
const server = createRealtimeServer(config, log);
try {
  const port = await server.listen(config.REALTIME_PORT);
  log.info("realtime listening", { port });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  console.error(`realtime: ${code === "EADDRINUSE" ? `port ${config.REALTIME_PORT} is already in use` : error}`);
  process.exit(1);
}

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info("realtime shutting down", { signal });
  await server.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
