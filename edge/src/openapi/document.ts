import { ERROR_STATUS, type ErrorCode } from "@leadscore/contracts";
import { z } from "zod";
import { ErrorBodySchema, type ResponseDoc, type RouteAuth, type RouteDoc } from "./route-doc.ts";

type JsonSchema = Record<string, unknown>;

/** Each route's security requirements, exactly as the server enforces them (`edge/test/openapi-security.test.ts`). */
const SECURITY: Record<RouteAuth, Record<string, string[]>[]> = {
  admin: [{ adminBearer: [] }, { adminHeader: [] }],
  read: [{ readBearer: [] }],
  "write-key": [{ writeKeyBearer: [] }, { writeKeyHeader: [] }],
  "write-key-or-query": [{ writeKeyBearer: [] }, { writeKeyHeader: [] }, { writeKeyQuery: [] }],
  // The empty requirement: open when the deployment sets no METRICS_TOKEN.
  metrics: [{ metricsBearer: [] }, {}],
  none: [],
};

const ERROR_TEXT: Record<ErrorCode, string> = {
  VALIDATION_FAILED: "Invalid parameters or body; `details` names each field.",
  UNAUTHORIZED: "No credentials given, or (reads, ingestion, metrics) credentials that are not valid.",
  FORBIDDEN: "The admin token is not valid.",
  NOT_FOUND: "No such resource.",
  METHOD_NOT_ALLOWED: "Method not allowed.",
  REQUEST_TIMEOUT: "The body did not arrive in time.",
  CONFLICT: "Already exists.",
  SUBSCRIPTION_PAUSED: "The subscription is paused or disabled: enable it first (`PUT` with `active: true`).",
  PAYLOAD_TOO_LARGE: "Body too large.",
  UNSUPPORTED_MEDIA_TYPE: "Unsupported content type.",
  RATE_LIMITED: "Too many requests; see `Retry-After`.",
  INTERNAL: "Unexpected error.",
  SERVICE_UNAVAILABLE: "A backing service cannot take the request.",
};

/** Converts zod schemas to OpenAPI 3.1 schemas, hoisting named ones (`.meta({ id })`) into `components`. */
class SchemaConverter {
  readonly components: Record<string, JsonSchema> = {};

  convert(schema: z.ZodType, io: "input" | "output"): JsonSchema {
    const json = z.toJSONSchema(schema, {
      io,
      unrepresentable: "any",
      override: (ctx) => {
        // The ISO date-time pattern zod emits is hundreds of characters; `format` says the same.
        if (ctx.jsonSchema.format === "date-time") delete ctx.jsonSchema.pattern;
      },
    }) as JsonSchema;
    const { $schema: _dialect, $defs, ...root } = json;
    for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) {
      this.components[name] ??= this.rewrite(def) as JsonSchema;
    }
    return this.rewrite(root) as JsonSchema;
  }

  private rewrite(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.rewrite(item));
    if (value === null || typeof value !== "object") return value;
    const out: JsonSchema = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        key === "$ref" && typeof item === "string"
          ? item.replace("#/$defs/", "#/components/schemas/")
          : this.rewrite(item);
    }
    return out;
  }
}

function parameters(converter: SchemaConverter, schema: z.ZodObject | undefined, location: "query" | "path") {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = converter.convert(field as z.ZodType, "output");
    const { description, ...rest } = json;
    return {
      name,
      in: location,
      required: location === "path" || !(field as z.ZodType).safeParse(undefined).success,
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function errorCodes(route: RouteDoc): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (route.query || route.params || route.body) codes.add("VALIDATION_FAILED");
  if (route.auth === "admin") {
    codes.add("UNAUTHORIZED");
    codes.add("FORBIDDEN");
  }
  if (route.auth !== "none") codes.add("UNAUTHORIZED");
  for (const code of route.errors ?? []) codes.add(code);
  return [...codes];
}

function response(converter: SchemaConverter, doc: ResponseDoc) {
  const headers = Object.fromEntries(
    Object.entries(doc.headers ?? {}).map(([name, description]) => [name, { description, schema: { type: "string" } }]),
  );
  const content = doc.schema
    ? { "application/json": { schema: converter.convert(doc.schema, "output") } }
    : doc.mediaType
      ? { [doc.mediaType]: {} }
      : undefined;
  return {
    description: doc.description,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(content ? { content } : {}),
  };
}

/** Builds the OpenAPI 3.1 document from the routes' own docs and schemas. */
export function buildOpenApiDocument(routes: readonly RouteDoc[], info: { title: string; version: string }) {
  const converter = new SchemaConverter();
  const errorSchema = converter.convert(ErrorBodySchema, "output");
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, doc] of Object.entries(route.responses)) responses[status] = response(converter, doc);
    for (const code of errorCodes(route)) {
      const status = String(ERROR_STATUS[code]);
      responses[status] ??= {
        description: ERROR_TEXT[code],
        content: { "application/json": { schema: errorSchema } },
      };
    }
    const body = route.body;
    const operation = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      ...(route.auth !== "none" ? { security: SECURITY[route.auth] } : {}),
      parameters: [...parameters(converter, route.params, "path"), ...parameters(converter, route.query, "query")],
      ...(body
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries(
                (body.mediaTypes ?? ["application/json"]).map((type) => [
                  type,
                  { schema: converter.convert(body.schema, "input") },
                ]),
              ),
            },
          }
        : {}),
      responses,
    };
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method] = operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      ...info,
      description:
        "Leadscore scores sales leads from their behaviour. Every error has the shape " +
        "`{ error: { code, message, details: [{ path, message }] } }`.",
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "Events", description: "Ingestion (write key) and event types." },
      { name: "Leads", description: "Leads, their score history and the leaderboard (reads need a read token)." },
      {
        name: "Rules",
        description:
          "Scoring rules, rule groups and the rule tester (reads need a read token, writes and tests the admin token).",
      },
      {
        name: "Rule sets",
        description:
          "Versions of the rule set, its draft, a preview of what publishing would change, and publishing (forward, " +
          "or re-scoring every lead's history; an earlier version published again is a rollback).",
      },
      {
        name: "Webhooks",
        description: "Subscriptions to lead changes, delivered signed per Standard Webhooks (the admin token).",
      },
      { name: "Operations", description: "Health, readiness, metrics and this document." },
    ],
    paths,
    components: {
      schemas: converter.components,
      securitySchemes: {
        adminBearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <ADMIN_TOKEN>`" },
        adminHeader: { type: "apiKey", in: "header", name: "X-Admin-Token" },
        readBearer: {
          type: "http",
          scheme: "bearer",
          description: "`Authorization: Bearer <token>`: one of `READ_TOKENS`, or `ADMIN_TOKEN`. Never a write key.",
        },
        writeKeyBearer: { type: "http", scheme: "bearer", description: "`Authorization: Bearer <write key>`" },
        writeKeyHeader: { type: "apiKey", in: "header", name: "X-Write-Key" },
        writeKeyQuery: { type: "apiKey", in: "query", name: "key", description: "Pixel and beacon only." },
        metricsBearer: {
          type: "http",
          scheme: "bearer",
          description: "`Authorization: Bearer <METRICS_TOKEN>`, required only when `METRICS_TOKEN` is set.",
        },
      },
    },
  };
}
