import { draftBody, readDraft, readPreview, startPreview } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { PreviewOutputSchema, toPreview } from "./preview.ts";

export const startPreviewDoc: RouteDoc = {
  method: "post",
  path: "/api/rule-sets/draft/preview",
  operationId: "previewRuleSetDraft",
  summary: "Preview what the draft would do to every lead",
  description:
    "Starts a dry run in a worker: every stored event is read once, each lead folded as it stands and with its " +
    "events matched again under the draft (its profile as stored). Nothing live is written. One preview (or " +
    "re-score) at a time per deployment: another is a 409. Follow it with `GET /api/rule-sets/previews/{id}`.",
  tag: "Rule sets",
  auth: "admin",
  responses: {
    202: {
      description: "Queued.",
      schema: PreviewOutputSchema,
      headers: { Location: "The preview's URL." },
    },
  },
  errors: ["NOT_FOUND", "CONFLICT"],
};

export function startPreviewRoute(deps: AppDeps) {
  return new Hono().post("/draft/preview", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const draft = await readDraft(deps.db);
    if (draft === null) throw new ApiError("NOT_FOUND", "no draft: POST /api/rule-sets/draft starts one");
    const now = (deps.now ?? Date.now)();
    const set = JSON.stringify(draftBody(draft));
    const started = await startPreview(deps.redis, deps.config.REDIS_PREFIX, { set, based_on: draft.based_on }, now);
    if (!started.ok) {
      throw new ApiError("CONFLICT", `a preview or re-score is running (${started.running ?? "finishing"}); try later`);
    }
    const record = await readPreview(deps.redis, deps.config.REDIS_PREFIX, started.id);
    if (record === null) throw new Error(`preview ${started.id} vanished as it was queued`);
    c.header("Location", `/api/rule-sets/previews/${started.id}`);
    return c.json(toPreview(record, now), 202);
  });
}
