import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors.ts";
import { issueDetails } from "./issues.ts";

/** Largest JSON body the admin API reads; profiles and rules are tiny. */
export const MAX_ADMIN_BODY_BYTES = 16 * 1024;

async function readCapped(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
  if (!request.body) return "";
  // Read the stream ourselves: a chunked body has no Content-Length to check up front.
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new ApiError("PAYLOAD_TOO_LARGE", `body must be at most ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Reads a JSON body (`application/json` only, at most `maxBytes`) and validates it with a strict schema. Values
 * come out of zod typed as the schema says, so an object such as `{ "$gt": "" }` can never stand where a string
 * is expected.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  maxBytes = MAX_ADMIN_BODY_BYTES,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "body must be application/json");
  }
  const text = await readCapped(c.req.raw, maxBytes);
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
