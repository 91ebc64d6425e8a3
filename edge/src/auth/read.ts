import { type EdgeConfig, readSecrets } from "@leadscore/contracts";
import type { MiddlewareHandler } from "hono";
import { requireBearer } from "./bearer.ts";

/**
 * Reads need `Authorization: Bearer <token>`, a read token or the admin token; 401 otherwise, whether the token is
 * missing or wrong. A write key is never one: write keys are public.
 */
export function requireReader(config: Pick<EdgeConfig, "READ_TOKENS" | "ADMIN_TOKEN">): MiddlewareHandler {
  return requireBearer({
    secrets: readSecrets(config),
    realm: "leadscore",
    name: "read token",
    invalid: "UNAUTHORIZED",
  });
}

/**
 * `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>` when one is set. Unset, it is open: Prometheus
 * conventionally scrapes an internal port, which the deployment keeps off the internet.
 */
export function requireMetricsToken(config: Pick<EdgeConfig, "METRICS_TOKEN">): MiddlewareHandler {
  if (config.METRICS_TOKEN === undefined) return (_c, next) => next();
  return requireBearer({
    secrets: [config.METRICS_TOKEN],
    realm: "leadscore-metrics",
    name: "metrics token",
    invalid: "UNAUTHORIZED",
  });
}
