import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors.ts";
import { readBody } from "../ingest/body.ts";
import { issueDetails } from "./issues.ts";

/** Largest JSON body the admin API reads; profiles and rules are tiny. */
export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON body (`application/json` only, at most `maxBytes`, arrived within `timeoutMs` or 408, as for
 * ingestion: a stalled body would otherwise hold its request for ever) and validates it with a strict schema.
 * Values come out of zod typed as the schema says, so an object such as `{ "$gt": "" }` can never stand where a
 * string is expected.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  timeoutMs: number,
  maxBytes = MAX_ADMIN_BODY_BYTES,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "body must be application/json");
  }
  const text = new TextDecoder().decode(await readBody(c.req.raw, maxBytes, timeoutMs));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApiError("VALIDATION_FAILED", "body is not valid JSON", [{ path: "(body)", message: "invalid JSON" }]);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ApiError("VALIDATION_FAILED", "invalid body", issueDetails(result.error.issues, "unknown field"));
  }
  return result.data;
}
