import type { Context } from "hono";
import { cors } from "hono/cors";
import { ApiError } from "../../errors.ts";
import type { RateLimiter } from "../../ingest/rate-limit.ts";
import { requireWriteKey } from "../../ingest/write-key.ts";
import type { EdgeMetrics } from "../../metrics.ts";

/** Browsers send events from any site that embeds the tracker, so ingestion allows every origin (no cookies). */
export const ingestCors = cors({
  origin: "*",
  allowMethods: ["POST", "GET", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type", "Content-Encoding", "X-Write-Key"],
  maxAge: 86_400,
});

/** The client's address as the runtime reports it (Deno passes `remoteAddr` as the Hono env). */
export function clientAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}

export interface GuardDeps {
  checkKey: (key: string) => boolean;
  limiter: RateLimiter;
  metrics: EdgeMetrics;
}

/** Write key (401), then per-key and per-address rate limits (429 + Retry-After). */
export function guardIngest(c: Context, deps: GuardDeps, allowQueryKey: boolean): void {
  let key: string;
  try {
    key = requireWriteKey(c, deps.checkKey, allowQueryKey);
  } catch (error) {
    deps.metrics.rejected("unauthorized");
    throw error;
  }
  const wait = Math.max(deps.limiter.take(`key:${key}`), deps.limiter.take(`addr:${clientAddress(c)}`));
  if (wait > 0) {
    deps.metrics.rateLimited();
    throw new ApiError("RATE_LIMITED", "too many requests; slow down", [], { "Retry-After": String(wait) });
  }
}
