import type { Context } from "hono";
import { z } from "zod";
import { ApiError, type ErrorDetail } from "../errors.ts";
import { issueDetails } from "./issues.ts";

/**
 * Validates a request's query string against a strict object schema. Each parameter may appear once; repeated and
 * unknown parameters (including bracket forms like `company[$ne]`) are refused, so no operator can ride in on them.
 */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const raw = c.req.queries();
  const single: Record<string, string> = {};
  const repeated: ErrorDetail[] = [];
  for (const [name, values] of Object.entries(raw)) {
    if (values.length > 1) repeated.push({ path: name, message: "must be given at most once" });
    single[name] = values[0] ?? "";
  }
  const result = schema.safeParse(single);
  const invalid = result.success ? [] : issueDetails(result.error.issues, "unknown parameter");
  const details = [...repeated, ...invalid.filter((detail) => !(detail.path in raw && raw[detail.path]?.length !== 1))];
  if (details.length > 0 || !result.success) {
    throw new ApiError("VALIDATION_FAILED", "invalid query parameters", details);
  }
  return result.data;
}

/** The query of a route that takes no parameters: any parameter is refused. */
export const NoQuerySchema = z.strictObject({});

/** Validates path parameters (e.g. `:id`) before they reach a query. */
export function parseParams<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.param());
  if (!result.success) {
    throw new ApiError("VALIDATION_FAILED", "invalid path parameters", issueDetails(result.error.issues, "unknown"));
  }
  return result.data;
}

/** A query parameter holding a whole number in `[min, max]`; documented as an integer. */
export function intParam(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,9}$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );
}
