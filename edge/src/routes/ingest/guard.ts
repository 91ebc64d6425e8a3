import type { Context, MiddlewareHandler } from "hono";
import { ApiError } from "../../errors.ts";
import type { RateLimiter } from "../../ingest/rate-limit.ts";
import { requireWriteKey } from "../../ingest/write-key.ts";
import type { EdgeMetrics } from "../../metrics.ts";

const PREFLIGHT_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "Authorization, Content-Type, Content-Encoding, X-Write-Key",
  "access-control-max-age": "86400",
};

/**
 * Browsers send events from any site that embeds the tracker, so ingestion allows every origin (no cookies are
 * involved). Hand-written rather than `hono/cors`: that middleware touches the response before the handler runs,
 * which makes Hono merge two header sets on every request, a tenth of the cost of an event.
 */
export const ingestCors: MiddlewareHandler = async (c, next) => {
  if (c.req.method === "OPTIONS") return new Response(null, { status: 204, headers: PREFLIGHT_HEADERS });
  await next();
  if (withCors.has(c.res)) return;
  c.res.headers.set("access-control-allow-origin", "*");
  // So that a browser script can read how long to back off after a 429 or 503.
  c.res.headers.set("access-control-expose-headers", "Retry-After");
};

/** Responses built with the CORS headers already (`ingestJson`), which `ingestCors` leaves alone. */
const withCors = new WeakSet<Response>();

/**
 * A JSON answer of an ingestion route with its CORS headers built in: cheaper than setting them on the finished
 * response, which makes the runtime build a headers object for it (a few µs of every event).
 */
export function ingestJson(body: unknown, status: number): Response {
  const response = new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      "access-control-allow-origin": "*",
      "access-control-expose-headers": "Retry-After",
    },
  });
  withCors.add(response);
  return response;
}

/** The client's address as the runtime reports it (Deno passes `remoteAddr` as the Hono env). */
export function clientAddress(c: Context): string {
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}

export interface GuardDeps {
  checkKey: (key: string) => boolean;
  limiter: RateLimiter;
  metrics: EdgeMetrics;
  /** How long a body may take to arrive (408 past it). */
  bodyTimeoutMs?: number;
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
