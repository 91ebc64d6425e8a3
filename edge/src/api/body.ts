import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors.ts";
import { readJsonBody } from "../ingest/body.ts";
import { issueDetails } from "./issues.ts";

/** Largest JSON body the admin API reads; profiles and rules are tiny. */
export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON body with the ingestion routes' reader (`application/json` only, at most `maxBytes`, arrived within
 * `timeoutMs` or 408, as UTF-8: the same checks and errors on every route) and validates it with a strict schema.
 * Values come out of zod typed as the schema says, so an object such as `{ "$gt": "" }` can never stand where a
 * string is expected.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  timeoutMs: number,
  maxBytes = MAX_ADMIN_BODY_BYTES,
): Promise<z.infer<S>> {
  const result = schema.safeParse(await readJsonBody(c.req.raw, maxBytes, false, timeoutMs));
  if (!result.success) {
    throw new ApiError("VALIDATION_FAILED", "invalid body", issueDetails(result.error.issues, "unknown field"));
  }
  return result.data;
}
