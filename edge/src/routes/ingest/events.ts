import { Hono } from "hono";
import { ApiError } from "../../errors.ts";
import { MAX_EVENT_BODY_BYTES, readJsonBody } from "../../ingest/body.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import { type GuardDeps, guardIngest, ingestJson } from "./guard.ts";

/** `POST /api/events`: one event → 202 accepted, 200 duplicate, 400 with the fields at fault. */
export function eventRoute(deps: GuardDeps & { ingest: Ingest }) {
  return new Hono().post("/", async (c) => {
    guardIngest(c, deps, false);
    const body = await readJsonBody(
      c.req.raw,
      MAX_EVENT_BODY_BYTES,
      false,
      deps.bodyTimeoutMs,
      deps.metrics.gzipInflated,
    );
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      deps.metrics.rejected("invalid_body");
      throw new ApiError("VALIDATION_FAILED", "the body must be one event object (use /api/batch for many)", [
        { path: "(body)", message: "must be a JSON object" },
      ]);
    }
    const [result] = await deps.ingest.accept([body]);
    if (!result || result.status === "rejected") {
      throw new ApiError("VALIDATION_FAILED", "invalid event", result?.error?.details ?? []);
    }
    const duplicate = result.status === "duplicate";
    return ingestJson({ success: true, event_id: result.event_id, duplicate }, duplicate ? 200 : 202);
  });
}
