import type { Context } from "hono";
import { bearerToken } from "../auth/bearer.ts";
import { ApiError } from "../errors.ts";

const encoder = new TextEncoder();

/**
 * Checks presented keys against the configured write keys in time that depends only on the presented key's
 * length, never on where or whether it matches.
 */
export function createWriteKeyCheck(keys: readonly string[]) {
  const expected = keys.map((key) => encoder.encode(key));
  return (presented: string): boolean => {
    const bytes = encoder.encode(presented);
    let match = 0;
    for (const key of expected) {
      let diff = key.length ^ bytes.length;
      for (let i = 0; i < bytes.length; i++) diff |= (bytes[i] ?? 0) ^ (key[i % Math.max(key.length, 1)] ?? 0);
      match |= diff === 0 ? 1 : 0;
    }
    return match === 1;
  };
}

/** The write key a request presents: `Authorization: Bearer`, `X-Write-Key`, or (pixel, beacon) `?key=`. */
export function presentedWriteKey(c: Context, allowQuery: boolean): string | undefined {
  const bearer = bearerToken(c.req.header("authorization"));
  if (bearer) return bearer;
  const header = c.req.header("x-write-key");
  if (header) return header;
  if (allowQuery) return c.req.query("key") || undefined;
  return undefined;
}

/** Throws 401 unless the request carries a valid write key; returns the key (for per-key rate limits). */
export function requireWriteKey(c: Context, check: (key: string) => boolean, allowQuery: boolean): string {
  const key = presentedWriteKey(c, allowQuery);
  if (key === undefined) {
    throw new ApiError("UNAUTHORIZED", "a write key is required (Authorization: Bearer <key> or X-Write-Key)", [], {
      "WWW-Authenticate": 'Bearer realm="leadscore-ingest"',
    });
  }
  if (key.length > 256 || !check(key)) {
    throw new ApiError("UNAUTHORIZED", "the write key is not valid", [], {
      "WWW-Authenticate": 'Bearer realm="leadscore-ingest", error="invalid_token"',
    });
  }
  return key;
}
