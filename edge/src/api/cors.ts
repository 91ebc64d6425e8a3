import type { EdgeConfig } from "@leadscore/contracts";
import { cors } from "hono/cors";

/**
 * CORS for the read/admin API: only origins listed in `CORS_ORIGINS` get `Access-Control-Allow-Origin`.
 * Same-origin calls (the dashboard served by the edge) need no CORS at all. Admin auth is a header, never a
 * cookie, so no credentials are allowed. Paging headers, `Location` and the rule-set version are exposed so browser code can read them.
 */
export function apiCors(config: Pick<EdgeConfig, "CORS_ORIGINS">) {
  const allowed = new Set(config.CORS_ORIGINS);
  return cors({
    origin: (origin) => (allowed.has(origin) ? origin : null),
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowHeaders: ["Authorization", "Content-Type", "X-Admin-Token"],
    exposeHeaders: ["Link", "X-Total-Count", "Location", "X-Rules-Version"],
    maxAge: 600,
  });
}
