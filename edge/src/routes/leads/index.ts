import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import type { AppDeps } from "../../deps.ts";
import { createLeadDoc, createLeadRoute } from "./create.ts";
import { getLeadDoc, getLeadRoute } from "./get.ts";
import { historyDoc, historyRoute } from "./history.ts";
import { leaderboardDoc, leaderboardRoute } from "./leaderboard.ts";
import { listLeadsDoc, listLeadsRoute } from "./list.ts";

export const leadDocs = [listLeadsDoc, createLeadDoc, leaderboardDoc, getLeadDoc, historyDoc];

/** `/api/leads`: the leaderboard is mounted before `/:id` so it is never read as a lead id. */
export function leadRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .route("/", listLeadsRoute(deps))
    .route("/", createLeadRoute(deps))
    .route("/", leaderboardRoute(deps))
    .route("/", getLeadRoute(deps))
    .route("/", historyRoute(deps));
}
