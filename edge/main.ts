// Deno entry point of the edge: parse config, build the app, serve it, shut down cleanly.
import { EdgeConfigSchema, parseConfigOrExit } from "@leadscore/contracts";
import { createLogger, VolatileRedisError } from "@leadscore/runtime";
import { createEdgeRuntime } from "./src/runtime.ts";

const config = parseConfigOrExit("edge", EdgeConfigSchema, Deno.env.toObject(), (code) => Deno.exit(code));
const log = createLogger("edge", config.LOG_LEVEL);
const webDist = config.WEB_DIST.replace(/\/+$/, "");
const runtime = await createEdgeRuntime(config, log, {
  // The static route has already refused paths that could leave WEB_DIST.
  readStatic: (path) => Deno.readFile(`${webDist}/${path}`).catch(() => null),
}).catch((error: Error) => {
  if (!(error instanceof VolatileRedisError)) throw error;
  console.error(`edge: ${error.message}`);
  return Deno.exit(2);
});

let server: Deno.HttpServer;
try {
  server = Deno.serve(
    { port: config.PORT, hostname: "0.0.0.0", onListen: ({ port }) => log.info("edge listening", { port }) },
    runtime.app.fetch,
  );
} catch (error) {
  const message = error instanceof Deno.errors.AddrInUse ? `port ${config.PORT} is already in use` : String(error);
  console.error(`edge: ${message}`);
  await runtime.close();
  Deno.exit(1);
}

const shutdown = async () => {
  log.info("edge shutting down");
  await server.shutdown();
  await runtime.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", shutdown);
Deno.addSignalListener("SIGINT", shutdown);
