import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import { createRuleDoc, createRuleRoute } from "./create.ts";
import { deleteRuleDoc, deleteRuleRoute } from "./delete.ts";
import { listRulesDoc, listRulesRoute } from "./list.ts";
import { testRulesDoc, testRulesRoute } from "./test.ts";
import { updateRuleDoc, updateRuleRoute } from "./update.ts";

export const ruleDocs = [listRulesDoc, createRuleDoc, updateRuleDoc, deleteRuleDoc, testRulesDoc];

/** `/api/rules`: reads need a read token, writes the admin token (checked by each write route). */
export function ruleRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .get("*", requireReader(deps.config))
    .route("/", listRulesRoute(deps))
    .route("/", createRuleRoute(deps))
    .route("/", testRulesRoute(deps))
    .route("/", updateRuleRoute(deps))
    .route("/", deleteRuleRoute(deps));
}
