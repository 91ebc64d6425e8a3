import { Hono } from "hono";
import { ApiError } from "../../errors.ts";
import type { Merges } from "../../identity/merges.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { type GuardDeps, guardIngest } from "./guard.ts";

/** The 43-byte transparent 1×1 GIF. */
export const PIXEL_GIF = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw=="), (char) =>
  char.charCodeAt(0),
);

function gif(status: 200 | 503, extra: Record<string, string> = {}): Response {
  return new Response(PIXEL_GIF, {
    status,
    headers: {
      "content-type": "image/gif",
      "content-length": String(PIXEL_GIF.byteLength),
      "cache-control": "no-store, no-cache, must-revalidate, max-age=0",
      pragma: "no-cache",
      ...extra,
    },
  });
}

/**
 * `GET /p.gif?lead_id=&event_type=&event_id=&ts=&key=` (and `m_<key>=` metadata): always the GIF, so a broken
 * tracker never shows a broken image; bad input (a metadata key JSON metadata could not have too) is counted in
 * `/metrics` by reason, not queued. Only when the queue cannot take a valid
 * event does it answer 503 (still with the GIF), since a 2xx would claim an event that is not queued.
 *
 * With `anonymous_id=` beside `lead_id=` the hit is an identify (`POST /api/identify`): the anonymous id is merged
 * into the lead; a refused merge is counted (`identify_refused`), and an `event_type` is also recorded for `lead_id`.
 */
export function pixelRoute(deps: GuardDeps & { ingest: Ingest; merges: Merges }) {
  return new Hono().get("/", async (c) => {
    try {
      guardIngest(c, deps, true);
    } catch {
      return gif(200);
    }
    const query = c.req.query();
    if (query.anonymous_id !== undefined) {
      try {
        await deps.merges.identify(query.anonymous_id, query.lead_id);
      } catch (error) {
        if (error instanceof ApiError && error.code === "SERVICE_UNAVAILABLE") return gif(503, error.headers);
        if (!(error instanceof ApiError)) throw error;
        deps.metrics.rejected("identify_refused");
      }
      if (query.event_type === undefined) return gif(200);
    }
    // Every `m_<key>` becomes metadata under the rules of JSON metadata, so a key that cannot be stored (`$gt`,
    // `a.b`, `__proto__`) rejects the event, counted by reason, instead of vanishing from an accepted event.
    // `Object.fromEntries` defines own properties: assigning `__proto__` would set the prototype instead.
    const metadata = Object.fromEntries(
      Object.entries(query).flatMap(([name, value]) => (name.startsWith("m_") ? [[name.slice(2), value]] : [])),
    );
    const event: Record<string, unknown> = { lead_id: query.lead_id, event_type: query.event_type };
    if (query.event_id) event.event_id = query.event_id;
    if (query.ts) event.timestamp = /^\d+$/.test(query.ts) ? Number(query.ts) : query.ts;
    if (Object.keys(metadata).length > 0) event.metadata = metadata;
    try {
      await deps.ingest.accept([event]);
    } catch (error) {
      if (error instanceof ApiError && error.code === "SERVICE_UNAVAILABLE") return gif(503, error.headers);
      throw error;
    }
    return gif(200);
  });
}
