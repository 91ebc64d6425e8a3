import { Hono } from "hono";
import { MAX_BATCH_BODY_BYTES, readJsonBody } from "../../ingest/body.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { batchEvents } from "./batch.ts";
import { type GuardDeps, guardIngest } from "./guard.ts";

/**
 * `POST /beacon`: `navigator.sendBeacon` bodies (text/plain or JSON; one event or `{ events }`), keyed by `?key=`
 * since sendBeacon cannot set headers. 204 once the valid events are queued; invalid ones are counted.
 */
export function beaconRoute(deps: GuardDeps & { ingest: Ingest }) {
  return new Hono().post("/", async (c) => {
    guardIngest(c, deps, true);
    const body = await readJsonBody(
      c.req.raw,
      MAX_BATCH_BODY_BYTES,
      true,
      deps.bodyTimeoutMs,
      deps.metrics.gzipInflated,
    );
    let events: unknown[];
    try {
      events = batchEvents(body, true);
    } catch (error) {
      deps.metrics.rejected("invalid_body");
      throw error;
    }
    await deps.ingest.accept(events);
    return c.body(null, 204);
  });
}
