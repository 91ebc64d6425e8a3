import { readScoringSettings } from "@leadscore/runtime";
import { Hono } from "hono";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { ScoringReadSchema } from "./settings.ts";

export const getScoringDoc: RouteDoc = {
  method: "get",
  path: "/api/scoring",
  operationId: "getScoringSettings",
  summary: "The scoring settings in force",
  description:
    "The score's half-life (null: no decay, the default), and the stage thresholds in force. One MongoDB read by `_id`.",
  tag: "Rules",
  auth: "read",
  responses: { 200: { description: "The settings.", schema: ScoringReadSchema } },
};

export function getScoringRoute(deps: AppDeps) {
  return new Hono().get("/", async (c) =>
    c.json({ ...(await readScoringSettings(deps.db)), stage_thresholds: deps.config.STAGE_THRESHOLDS }),
  );
}
