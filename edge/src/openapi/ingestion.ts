// What the OpenAPI document says about the routes beside the read/admin API: ingestion (built from the same
// EventInputSchema the edge validates events with), health and metrics.
import { EventIdSchema, EventInputSchema, EventTypeSchema, LeadIdSchema } from "@leadscore/contracts";
import { z } from "zod";
import type { RouteDoc } from "./route-doc.ts";

const EventSchema = EventInputSchema.meta({ id: "EventInput" });

const EventAcceptedSchema = z
  .object({ success: z.boolean(), event_id: z.string(), duplicate: z.boolean() })
  .meta({ id: "EventAccepted" });

const BatchBodySchema = z
  .strictObject({ events: z.array(EventSchema).min(1).max(1000) })
  .meta({ id: "EventBatch", description: "At most 1,000 events and 1 MB; invalid items never block valid ones." });

const BatchResultSchema = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.number().int(),
    results: z.array(
      z.object({
        index: z.number().int(),
        event_id: z.string().nullable(),
        status: z.enum(["accepted", "duplicate", "rejected"]),
        error: z.object({ code: z.string(), message: z.string() }).passthrough().optional(),
      }),
    ),
  })
  .meta({ id: "BatchResult" });

const PixelQuerySchema = z.object({
  lead_id: LeadIdSchema,
  event_type: EventTypeSchema,
  event_id: EventIdSchema.optional(),
  ts: z.string().optional().describe("Event time: ISO-8601 or epoch milliseconds."),
  key: z.string().optional().describe("Write key (a pixel cannot send headers)."),
});

const ingestionErrors = [
  "REQUEST_TIMEOUT",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "RATE_LIMITED",
  "SERVICE_UNAVAILABLE",
] as const satisfies RouteDoc["errors"];

export const ingestionDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/api/events",
    operationId: "trackEvent",
    summary: "Send one event",
    description:
      "Validated, de-duplicated by `event_id` and durably queued; scored asynchronously. " +
      "Bodies may be gzip-compressed (`Content-Encoding: gzip`).",
    tag: "Events",
    auth: "write-key",
    body: { schema: EventSchema },
    responses: {
      202: { description: "Accepted (`duplicate: false`).", schema: EventAcceptedSchema },
      200: { description: "Seen before (`duplicate: true`); counted once.", schema: EventAcceptedSchema },
    },
    errors: [...ingestionErrors],
  },
  {
    method: "post",
    path: "/api/batch",
    operationId: "trackBatch",
    summary: "Send up to 1,000 events",
    tag: "Events",
    auth: "write-key",
    body: { schema: BatchBodySchema },
    responses: { 202: { description: "Per-event outcome, in request order.", schema: BatchResultSchema } },
    errors: [...ingestionErrors],
  },
  {
    method: "get",
    path: "/p.gif",
    operationId: "trackPixel",
    summary: "Tracking pixel",
    description:
      "Always answers the 43-byte transparent GIF with `Cache-Control: no-store`; invalid events are counted, not queued.",
    tag: "Events",
    auth: "write-key-or-query",
    query: PixelQuerySchema,
    responses: { 200: { description: "Transparent GIF.", mediaType: "image/gif" } },
  },
  {
    method: "post",
    path: "/beacon",
    operationId: "trackBeacon",
    summary: "navigator.sendBeacon endpoint",
    description: "One event or `{ events: [...] }`, as `text/plain` or JSON. Write key in `?key=`.",
    tag: "Events",
    auth: "write-key-or-query",
    body: {
      schema: z.union([EventSchema, BatchBodySchema]),
      mediaTypes: ["text/plain", "application/json"],
    },
    responses: { 204: { description: "Received." } },
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    summary: "The process is up",
    tag: "Operations",
    auth: "none",
    responses: { 200: { description: "Up.", schema: z.object({ status: z.literal("ok") }) } },
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "ready",
    summary: "Ready to keep its promises",
    description:
      "200 only when Redis and MongoDB answer, the default rules are seeded and the live state is current (built on " +
      "the running Redis, not being rebuilt). `checks.redis.persistence` says whether Redis keeps what it " +
      "acknowledged (append-only file, snapshots only, or nothing); with `NODE_ENV=production` the Redis check " +
      "fails on a Redis without the append-only file unless `REDIS_VOLATILE_OK=true`.",
    tag: "Operations",
    auth: "none",
    responses: {
      200: {
        description: "Ready.",
        schema: z.object({ status: z.string(), checks: z.record(z.string(), z.unknown()) }),
      },
      503: { description: "Not ready: `checks` says which check failed and why (`error`)." },
    },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    description:
      "Accepted, duplicate and rejected events (by reason), bytes each gzip body inflated to, queue depth and " +
      "processing lag. Needs " +
      "`Authorization: Bearer <METRICS_TOKEN>` when `METRICS_TOKEN` is set; open otherwise.",
    tag: "Operations",
    auth: "metrics",
    responses: { 200: { description: "Prometheus text exposition format.", mediaType: "text/plain" } },
  },
];
