import { Hono } from "hono";
import { createExpensiveReads } from "./api/expensive-reads.ts";
import type { AppDeps } from "./deps.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { createIngestion } from "./ingest/index.ts";
import { deadLetterRoutes } from "./routes/dead-letters/index.ts";
import { eventTypesRoutes } from "./routes/events/event-types.ts";
import { healthRoutes } from "./routes/health/index.ts";
import { ingestRoutes } from "./routes/ingest/index.ts";
import { leadRoutes } from "./routes/leads/index.ts";
import { movementRoutes } from "./routes/movements/index.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { ruleGroupRoutes } from "./routes/rule-groups/index.ts";
import { ruleSetRoutes } from "./routes/rule-sets/index.ts";
import { ruleRoutes } from "./routes/rules/index.ts";
import { scoringRoutes } from "./routes/scoring/index.ts";
import { staticRoutes } from "./routes/static.ts";
import { statsRoutes } from "./routes/stats/index.ts";
import { webhookRoutes } from "./routes/webhooks/index.ts";

/** The edge HTTP app, built from Web APIs only; runtime entry points (Deno, Node) only serve `app.fetch`. */
export function createApp(deps: AppDeps) {
  const app = new Hono();
  // One set of slots for every expensive read of this process (the app is built once per process).
  const reads = createExpensiveReads({
    concurrency: deps.config.EXPENSIVE_READ_CONCURRENCY,
    timeoutMs: deps.config.EXPENSIVE_READ_TIMEOUT_MS,
    now: deps.now,
  });

  app.route("/", healthRoutes(deps));
  // Read/admin API. Event types first, so no ingestion middleware under /api/events can shadow it.
  app.route("/api/events", eventTypesRoutes(deps));
  // Ingestion: POST /api/events, /api/batch, GET /p.gif, POST /beacon, GET /metrics.
  app.route("/", ingestRoutes(deps, deps.ingestion ?? createIngestion(deps), reads));
  app.route("/api/leads", leadRoutes(deps, reads));
  app.route("/api/stats", statsRoutes(deps));
  app.route("/api/movements", movementRoutes(deps));
  app.route("/api/rules", ruleRoutes(deps));
  app.route("/api/rule-groups", ruleGroupRoutes(deps));
  app.route("/api/rule-sets", ruleSetRoutes(deps));
  app.route("/api/scoring", scoringRoutes(deps));
  app.route("/api/webhooks", webhookRoutes(deps));
  app.route("/api/dead-letters", deadLetterRoutes(deps));
  app.route("/", openApiRoutes(deps));
  // Last: the dashboard's files, and its page for every other GET outside the server's own paths.
  app.route("/", staticRoutes(deps));

  app.notFound((c) => errorResponse(new ApiError("NOT_FOUND", `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((error) => {
    if (error instanceof ApiError) return errorResponse(error);
    if (storeUnavailable(error)) {
      deps.log.warn("store unavailable", { error: error.message });
      return errorResponse(
        new ApiError("SERVICE_UNAVAILABLE", "a backing store is not reachable; try again", [], { "Retry-After": "1" }),
      );
    }
    deps.log.error("unhandled error", { error: error.message, stack: error.stack });
    return errorResponse(new ApiError("INTERNAL", "internal error"));
  });
  return app;
}

export type App = ReturnType<typeof createApp>;

// Errors of the MongoDB driver and ioredis that mean the server cannot be reached (not that the request is wrong),
// told by name so the app needs neither driver: a read that needs the store then answers 503, never 500.
const UNREACHABLE = new Set([
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoTopologyClosedError",
  "MongoNotConnectedError",
  "MaxRetriesPerRequestError",
]);

function storeUnavailable(error: Error): boolean {
  return UNREACHABLE.has(error.name) || /^Connection is closed|ECONNREFUSED|Stream isn't writeable/.test(error.message);
}
