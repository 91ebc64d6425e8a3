import { Hono } from "hono";
import type { Merges } from "../../identity/merges.ts";
import { MAX_BATCH_BODY_BYTES, readJsonBody } from "../../ingest/body.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { batchEvents } from "./batch.ts";
import { type GuardDeps, guardIngest } from "./guard.ts";

/**
 * `POST /beacon`: `navigator.sendBeacon` bodies (text/plain or JSON; one event or `{ events }`), keyed by `?key=`
 * since sendBeacon cannot set headers. 204 once the valid events are queued; invalid ones are counted. A body
 * `{ identify: { anonymous_id, lead_id } }` (with or without `events`) merges the anonymous id first, as
 * `POST /api/identify` does; a refused merge answers its error.
 */
/** A beacon body's `identify` object, if it has one. */
function identifyOf(body: unknown): Record<string, unknown> | undefined {
  if (body === null || typeof body !== "object" || Array.isArray(body) || !("identify" in body)) return undefined;
  const identify = (body as { identify: unknown }).identify;
  return identify !== null && typeof identify === "object" && !Array.isArray(identify)
    ? (identify as Record<string, unknown>)
    : {};
}

export function beaconRoute(deps: GuardDeps & { ingest: Ingest; merges: Merges }) {
  return new Hono().post("/", async (c) => {
    guardIngest(c, deps, true);
    const body = await readJsonBody(
      c.req.raw,
      MAX_BATCH_BODY_BYTES,
      true,
      deps.bodyTimeoutMs,
      deps.metrics.gzipInflated,
    );
    const identify = identifyOf(body);
    if (identify !== undefined) {
      await deps.merges.identify(identify.anonymous_id, identify.lead_id);
      if (!Array.isArray((body as { events?: unknown }).events)) return c.body(null, 204);
    }
    let events: unknown[];
    try {
      events = batchEvents(identify === undefined ? body : { events: (body as { events: unknown[] }).events }, true);
    } catch (error) {
      deps.metrics.rejected("invalid_body");
      throw error;
    }
    await deps.ingest.accept(events);
    return c.body(null, 204);
  });
}
