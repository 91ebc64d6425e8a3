import type { Context } from "hono";
import { z } from "zod";
import { ApiError } from "../errors.ts";

/** Longest `cursor` parameter accepted; real cursors are well under 300 characters. */
export const MAX_CURSOR_LENGTH = 512;

export const CursorParamSchema = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(MAX_CURSOR_LENGTH, { error: `must be at most ${MAX_CURSOR_LENGTH} characters` })
  .regex(/^[A-Za-z0-9_-]+$/, { error: "must be a cursor returned in a Link header" })
  .describe('Opaque position returned in the `Link: <…>; rel="next"` header of the previous page.');

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(value: string): string {
  const binary = atob(value.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/** Opaque keyset cursors: base64url JSON of the last item's sort key, read back through a schema. */
export function encodeCursor(position: unknown): string {
  return toBase64Url(JSON.stringify(position));
}

export function decodeCursor<S extends z.ZodType>(value: string, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(fromBase64Url(value));
  } catch {
    raw = undefined;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ApiError("VALIDATION_FAILED", "invalid query parameters", [
      { path: "cursor", message: "is not a cursor this endpoint issued for these parameters" },
    ]);
  }
  return result.data;
}

/**
 * Sets `Link: <…>; rel="next"` (a path relative to the request, so it stays right behind proxies) when there is a
 * next page, and `X-Total-Count` when the total is known.
 */
export function setPageHeaders(c: Context, next: string | null, total?: number): void {
  if (next !== null) {
    const url = new URL(c.req.url);
    url.searchParams.set("cursor", next);
    c.header("Link", `<${url.pathname}${url.search}>; rel="next"`);
  }
  if (total !== undefined) c.header("X-Total-Count", String(total));
}
