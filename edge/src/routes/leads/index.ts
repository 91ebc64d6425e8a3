import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { createLeadDoc, createLeadRoute } from "./create.ts";
import { getLeadDoc, getLeadRoute } from "./get.ts";
import { historyDoc, historyRoute } from "./history.ts";
import { leaderboardDoc, leaderboardRoute } from "./leaderboard.ts";
import { listLeadsDoc, listLeadsRoute } from "./list.ts";
import { seriesDoc, seriesRoute } from "./series.ts";

export const leadDocs = [listLeadsDoc, createLeadDoc, leaderboardDoc, getLeadDoc, historyDoc, seriesDoc];

/**
 * `/api/leads`: every GET needs a read token (after CORS, so a refused browser still reads the 401); the create route
 * checks the admin token itself. The leaderboard is mounted before `/:id` so it is never read as a lead id.
 */
export function leadRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", listLeadsRoute(deps))
    .route("/", createLeadRoute(deps))
    .route("/", leaderboardRoute(deps))
    .route("/", getLeadRoute(deps))
    .route("/", historyRoute(deps))
    .route("/", seriesRoute(deps));
}
