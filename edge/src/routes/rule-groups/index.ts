import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { createGroupDoc, createGroupRoute } from "./create.ts";
import { deleteGroupDoc, deleteGroupRoute } from "./delete.ts";
import { getGroupDoc, getGroupRoute } from "./get.ts";
import { listGroupsDoc, listGroupsRoute } from "./list.ts";
import { updateGroupDoc, updateGroupRoute } from "./update.ts";

export const groupDocs = [listGroupsDoc, createGroupDoc, getGroupDoc, updateGroupDoc, deleteGroupDoc];

/** `/api/rule-groups`: reads need a read token, writes the admin token (checked by each write route). */
export function ruleGroupRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", listGroupsRoute(deps))
    .route("/", createGroupRoute(deps))
    .route("/", getGroupRoute(deps))
    .route("/", updateGroupRoute(deps))
    .route("/", deleteGroupRoute(deps));
}
