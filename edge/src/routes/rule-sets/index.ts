import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { createDraftDoc, createDraftRoute } from "./draft-create.ts";
import { getDraftDoc, getDraftRoute } from "./draft-get.ts";
import { publishDraftDoc, publishDraftRoute } from "./draft-publish.ts";
import { updateDraftDoc, updateDraftRoute } from "./draft-update.ts";
import { getVersionDoc, getVersionRoute } from "./get.ts";
import { listVersionsDoc, listVersionsRoute } from "./list.ts";
import { cancelPreviewDoc, cancelPreviewRoute } from "./preview-cancel.ts";
import { getPreviewDoc, getPreviewRoute } from "./preview-get.ts";
import { startPreviewDoc, startPreviewRoute } from "./preview-start.ts";
import { getRescoreDoc, getRescoreRoute } from "./rescore-get.ts";
import { publishVersionDoc, publishVersionRoute } from "./version-publish.ts";

export const ruleSetDocs = [
  listVersionsDoc,
  getVersionDoc,
  createDraftDoc,
  getDraftDoc,
  updateDraftDoc,
  startPreviewDoc,
  getPreviewDoc,
  cancelPreviewDoc,
  publishDraftDoc,
  publishVersionDoc,
  getRescoreDoc,
];

/** `/api/rule-sets`: versions, the draft; reads need a read token, writes the admin token (checked by each). */
export function ruleSetRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", listVersionsRoute(deps))
    .route("/", getDraftRoute(deps))
    .route("/", createDraftRoute(deps))
    .route("/", updateDraftRoute(deps))
    .route("/", startPreviewRoute(deps))
    .route("/", getPreviewRoute(deps))
    .route("/", cancelPreviewRoute(deps))
    .route("/", publishDraftRoute(deps))
    .route("/", publishVersionRoute(deps))
    .route("/", getRescoreRoute(deps))
    .route("/", getVersionRoute(deps));
}
