import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { breakdownDoc, breakdownRoute } from "./breakdown.ts";
import { createLeadDoc, createLeadRoute } from "./create.ts";
import { leadEventDoc, leadEventRoute } from "./event.ts";
import { exportLeadsDoc, exportLeadsRoute } from "./export.ts";
import { getLeadDoc, getLeadRoute } from "./get.ts";
import { historyDoc, historyRoute } from "./history.ts";
import { leaderboardDoc, leaderboardRoute } from "./leaderboard.ts";
import { listLeadsDoc, listLeadsRoute } from "./list.ts";
import { mergeLeadDoc, mergeLeadRoute } from "./merge.ts";
import { seriesDoc, seriesRoute } from "./series.ts";
import { updateLeadDoc, updateLeadRoute } from "./update.ts";

export const leadDocs = [
  listLeadsDoc,
  createLeadDoc,
  exportLeadsDoc,
  leaderboardDoc,
  getLeadDoc,
  historyDoc,
  breakdownDoc,
  seriesDoc,
  leadEventDoc,
  updateLeadDoc,
  mergeLeadDoc,
];

/**
 * `/api/leads`: every GET needs a read token (after CORS, so a refused browser still reads the 401); the create and
 * edit routes check the admin token themselves. The leaderboard and the export are mounted before `/:id` so they are never read as a lead id.
 */
export function leadRoutes(deps: AppDeps, reads: ExpensiveReads) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", listLeadsRoute(deps, reads))
    .route("/", createLeadRoute(deps))
    .route("/", leaderboardRoute(deps))
    .route("/", exportLeadsRoute(deps, reads))
    .route("/", getLeadRoute(deps))
    .route("/", historyRoute(deps, reads))
    .route("/", breakdownRoute(deps))
    .route("/", seriesRoute(deps))
    .route("/", leadEventRoute(deps, reads))
    .route("/", updateLeadRoute(deps))
    .route("/", mergeLeadRoute(deps));
}
