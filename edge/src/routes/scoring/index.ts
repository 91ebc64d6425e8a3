import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { getScoringDoc, getScoringRoute } from "./get.ts";
import { updateScoringDoc, updateScoringRoute } from "./update.ts";

export const scoringDocs = [getScoringDoc, updateScoringDoc];

/** `/api/scoring`: the read needs a read token, the change the admin token. */
export function scoringRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", getScoringRoute(deps))
    .route("/", updateScoringRoute(deps));
}
