import type { ErrorCode } from "@leadscore/contracts";
import { z } from "zod";

/**
 * How a route is authenticated, by name of an OpenAPI security scheme group: the admin token; a read token (or the
 * admin token); a write key in a header, or (pixel, beacon) in a header or `?key=`; the metrics token when one is set.
 */
export type RouteAuth = "admin" | "read" | "write-key" | "write-key-or-query" | "metrics" | "none";

export interface ResponseDoc {
  description: string;
  /** JSON body schema; omitted for bodiless responses. */
  schema?: z.ZodType;
  /** Non-JSON body media type (e.g. `image/gif`, `text/plain`). */
  mediaType?: string;
  headers?: Record<string, string>;
}

/** What the OpenAPI document says about one route; kept in the route's file, beside the schemas it validates with. */
export interface RouteDoc {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI path, with `{param}` placeholders. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { schema: z.ZodType; mediaTypes?: string[] };
  responses: Record<number, ResponseDoc>;
  /** Error codes the route may answer with, beyond those implied by `auth` and validation. */
  errors?: ErrorCode[];
}

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe("SCREAMING_SNAKE error code, e.g. VALIDATION_FAILED"),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  })
  .meta({ id: "Error" });

export const PAGE_HEADERS = {
  Link: 'Next page as `<path?…&cursor=…>; rel="next"`; absent on the last page.',
  "X-Total-Count": "Number of items matching the filters, across all pages.",
};
