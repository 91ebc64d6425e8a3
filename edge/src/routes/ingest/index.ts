import { Hono } from "hono";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { requireMetricsToken } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { mergesOf } from "../../identity/merges.ts";
import type { Ingestion } from "../../ingest/index.ts";
import { identifyRoute } from "../identify/index.ts";
import { batchRoute } from "./batch.ts";
import { beaconRoute } from "./beacon.ts";
import { eventRoute } from "./events.ts";
import { ingestCors } from "./guard.ts";
import { metricsRoute } from "./metrics.ts";
import { pixelRoute } from "./pixel.ts";

/** Ingestion routes (`/api/events`, `/api/batch`, `/p.gif`, `/beacon`) and `/metrics`. */
export function ingestRoutes(deps: AppDeps, ingestion: Ingestion, reads: ExpensiveReads) {
  const app = new Hono();
  for (const path of ["/api/events", "/api/batch", "/p.gif", "/beacon", "/api/identify"]) app.use(path, ingestCors);
  const merges = mergesOf(deps);
  app.route("/api/events", eventRoute(ingestion));
  app.route("/api/batch", batchRoute(ingestion));
  app.route("/p.gif", pixelRoute({ ...ingestion, merges }));
  app.route("/beacon", beaconRoute({ ...ingestion, merges }));
  app.route("/api/identify", identifyRoute({ ...ingestion, merges }));
  app.use("/metrics", requireMetricsToken(deps.config));
  app.route(
    "/metrics",
    metricsRoute({
      metrics: ingestion.metrics,
      queues: deps.partitionQueues ?? [deps.queue],
      redis: deps.redis,
      queuedEvents: ingestion.queuedEvents,
      now: deps.now ?? Date.now,
      reads,
    }),
  );
  return app;
}
