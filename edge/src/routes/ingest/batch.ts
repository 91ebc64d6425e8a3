import { Hono } from "hono";
import { ApiError } from "../../errors.ts";
import { MAX_BATCH_BODY_BYTES, readJsonBody } from "../../ingest/body.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { type GuardDeps, guardIngest } from "./guard.ts";

/** Most events one batch or beacon request may carry; the worker merges jobs into larger scoring batches. */
export const MAX_EVENTS_PER_REQUEST = 1000;

/** Pulls the event list out of a batch or beacon body: `{ events: [...] }`, or (beacon) one event. */
export function batchEvents(body: unknown, allowSingle: boolean): unknown[] {
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const record = body as Record<string, unknown>;
    if ("events" in record) {
      const extra = Object.keys(record).filter((key) => key !== "events");
      if (extra.length > 0) {
        throw new ApiError(
          "VALIDATION_FAILED",
          "invalid batch",
          extra.map((key) => ({ path: key, message: "unknown field" })),
        );
      }
      if (!Array.isArray(record.events)) {
        throw new ApiError("VALIDATION_FAILED", "invalid batch", [{ path: "events", message: "must be an array" }]);
      }
      if (record.events.length === 0) {
        throw new ApiError("VALIDATION_FAILED", "invalid batch", [
          { path: "events", message: "must hold at least one event" },
        ]);
      }
      if (record.events.length > MAX_EVENTS_PER_REQUEST) {
        throw new ApiError("PAYLOAD_TOO_LARGE", `a batch holds at most ${MAX_EVENTS_PER_REQUEST} events`, [
          { path: "events", message: `must hold at most ${MAX_EVENTS_PER_REQUEST} events` },
        ]);
      }
      return record.events;
    }
    if (allowSingle) return [body];
  }
  throw new ApiError("VALIDATION_FAILED", "invalid batch", [
    { path: "(body)", message: allowSingle ? "must be an event or { events: [...] }" : "must be { events: [...] }" },
  ]);
}

/** `POST /api/batch`: up to 1,000 events; invalid items never block valid ones. */
export function batchRoute(deps: GuardDeps & { ingest: Ingest }) {
  return new Hono().post("/", async (c) => {
    guardIngest(c, deps, false);
    const body = await readJsonBody(
      c.req.raw,
      MAX_BATCH_BODY_BYTES,
      false,
      deps.bodyTimeoutMs,
      deps.metrics.gzipInflated,
    );
    let events: unknown[];
    try {
      events = batchEvents(body, false);
    } catch (error) {
      deps.metrics.rejected("invalid_body");
      throw error;
    }
    const results = await deps.ingest.accept(events);
    let accepted = 0;
    let duplicates = 0;
    let rejected = 0;
    for (const result of results) {
      if (result.status === "accepted") accepted++;
      else if (result.status === "duplicate") duplicates++;
      else rejected++;
    }
    return c.json({ accepted, duplicates, rejected, results }, 202);
  });
}
