import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors.ts";

const encoder = new TextEncoder();

async function digest(value: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
}

/** Compares two digests in time independent of where they differ; hashing first hides the token's length too. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function presentedToken(authorization: string | undefined, header: string | undefined): string | undefined {
  const bearer = authorization?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i)?.[1];
  if (bearer) return bearer;
  return header && header.length > 0 ? header : undefined;
}

/**
 * Admin writes need `Authorization: Bearer <ADMIN_TOKEN>` or `X-Admin-Token: <ADMIN_TOKEN>`:
 * 401 when neither is given, 403 when the token is wrong.
 */
export function requireAdmin(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const presented = presentedToken(c.req.header("authorization"), c.req.header("x-admin-token"));
    if (presented === undefined) {
      throw new ApiError("UNAUTHORIZED", "an admin token is required", [], {
        "WWW-Authenticate": 'Bearer realm="leadscore-admin"',
      });
    }
    if (!sameDigest(await digest(presented), await expected)) {
      throw new ApiError("FORBIDDEN", "the admin token is not valid");
    }
    await next();
  };
}
