import type { MiddlewareHandler } from "hono";
import { requireBearer } from "./bearer.ts";

/**
 * Admin writes need `Authorization: Bearer <ADMIN_TOKEN>` or `X-Admin-Token: <ADMIN_TOKEN>`:
 * 401 when neither is given, 403 when the token is wrong (a read token included: it does not grant writes).
 */
export function requireAdmin(token: string): MiddlewareHandler {
  return requireBearer({
    secrets: [token],
    realm: "leadscore-admin",
    name: "admin token",
    header: "x-admin-token",
    invalid: "FORBIDDEN",
  });
}
