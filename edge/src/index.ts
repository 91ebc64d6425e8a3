// The edge's front door: what other packages, benchmarks and suites may use (the checks the security suite drives on
// their own, beside the whole app, among them). The Deno entry is `edge/main.ts`.
export { type App, createApp } from "./app.ts";
export { requireAdmin } from "./auth/admin.ts";
export type { AppDeps } from "./deps.ts";
export { ApiError, errorResponse } from "./errors.ts";
export { CLAIMED, createClaimer } from "./ingest/dedupe.ts";
export { createDedupeSweeper } from "./ingest/dedupe-sweeper.ts";
export { createRateLimiter } from "./ingest/rate-limit.ts";
export { createWriteKeyCheck } from "./ingest/write-key.ts";
export { MAX_SEARCH_MATCHES } from "./leads/search.ts";
