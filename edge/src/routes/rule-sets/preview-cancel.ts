import { cancelPreview } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { PreviewOutputSchema, PreviewParamsSchema, toPreview } from "./preview.ts";

export const cancelPreviewDoc: RouteDoc = {
  method: "delete",
  path: "/api/rule-sets/previews/{id}",
  operationId: "cancelRuleSetPreview",
  summary: "Cancel a preview",
  description:
    "A queued preview is cancelled at once; a running one stops within about a second (its state then says " +
    "`cancelled`). A finished one is left as it is.",
  tag: "Rule sets",
  auth: "admin",
  params: PreviewParamsSchema,
  responses: { 200: { description: "The preview after the request.", schema: PreviewOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function cancelPreviewRoute(deps: AppDeps) {
  return new Hono().delete("/previews/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, PreviewParamsSchema);
    const now = (deps.now ?? Date.now)();
    const record = await cancelPreview(deps.redis, deps.config.REDIS_PREFIX, id, now);
    if (record === null) throw new ApiError("NOT_FOUND", `no preview ${id}`);
    return c.json(toPreview(record, now));
  });
}
