import { IdentifySchema } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../../errors.ts";
import type { Merges } from "../../identity/merges.ts";
import { MAX_EVENT_BODY_BYTES, readJsonBody } from "../../ingest/body.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { type GuardDeps, guardIngest, ingestJson } from "../ingest/guard.ts";

const IdentifiedSchema = z
  .object({
    success: z.literal(true),
    anonymous_id: z.string(),
    lead_id: z.string().describe("The lead the anonymous id resolves to (the root, when `lead_id` was merged too)."),
  })
  .meta({ id: "Identified" });

export const identifyDoc: RouteDoc = {
  method: "post",
  path: "/api/identify",
  operationId: "identify",
  summary: "Merge an anonymous visitor into a known lead",
  description:
    "From now on `anonymous_id`'s events, past and future, belong to `lead_id` (an existing lead, or a new id: the " +
    "anonymous lead is renamed). 202 once the merge is queued, in order with the events; 200 when the anonymous id " +
    "already resolves to that lead. Refused: a placeholder id (`null`, `undefined`, `anonymous`, `0`, …: " +
    "`PLACEHOLDER_IDS`) with 400; an id that is not anonymous (merged already, the target of a merge, or with a " +
    "profile) with 409 — known leads are merged with the admin token (`POST /api/leads/{id}/merge`).",
  tag: "Events",
  auth: "write-key",
  body: { schema: IdentifySchema },
  responses: {
    202: {
      description: "Queued: the worker folds the anonymous lead's history into the known lead.",
      schema: IdentifiedSchema,
    },
    200: { description: "Nothing to do: the anonymous id already resolves to that lead.", schema: IdentifiedSchema },
  },
  errors: ["VALIDATION_FAILED", "CONFLICT", "SERVICE_UNAVAILABLE"],
};

/** `POST /api/identify { anonymous_id, lead_id }` (write key). */
export function identifyRoute(deps: GuardDeps & { merges: Merges }) {
  return new Hono().post("/", async (c) => {
    guardIngest(c, deps, false);
    const body = await readJsonBody(c.req.raw, MAX_EVENT_BODY_BYTES, false, deps.bodyTimeoutMs);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new ApiError("VALIDATION_FAILED", "the body must be an object { anonymous_id, lead_id }", [
        { path: "(body)", message: "must be a JSON object" },
      ]);
    }
    const { anonymous_id, lead_id } = body as Record<string, unknown>;
    const answer = await deps.merges.identify(anonymous_id, lead_id);
    return ingestJson({ success: true, anonymous_id: answer.from, lead_id: answer.into }, answer.status);
  });
}
