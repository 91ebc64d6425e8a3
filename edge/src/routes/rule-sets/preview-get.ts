import { readPreview } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { PreviewOutputSchema, PreviewParamsSchema, toPreview } from "./preview.ts";

export const getPreviewDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-sets/previews/{id}",
  operationId: "getRuleSetPreview",
  summary: "A preview's progress and result",
  description:
    "Progress (events read and folded, leads done, ETA) while it runs; when done, the leads whose score and stage " +
    "change, the stage matrix, the score histograms now and under the draft, the 50 leads that move most and the " +
    "webhooks a retroactive publish would send. Kept a week.",
  tag: "Rule sets",
  auth: "read",
  params: PreviewParamsSchema,
  responses: { 200: { description: "The preview.", schema: PreviewOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getPreviewRoute(deps: AppDeps) {
  return new Hono().get("/previews/:id", async (c) => {
    const { id } = parseParams(c, PreviewParamsSchema);
    const record = await readPreview(deps.redis, deps.config.REDIS_PREFIX, id);
    if (record === null) throw new ApiError("NOT_FOUND", `no preview ${id}`);
    return c.json(toPreview(record, (deps.now ?? Date.now)()));
  });
}
