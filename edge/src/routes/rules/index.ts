import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import type { AppDeps } from "../../deps.ts";
import { createRuleDoc, createRuleRoute } from "./create.ts";
import { deleteRuleDoc, deleteRuleRoute } from "./delete.ts";
import { listRulesDoc, listRulesRoute } from "./list.ts";
import { updateRuleDoc, updateRuleRoute } from "./update.ts";

export const ruleDocs = [listRulesDoc, createRuleDoc, updateRuleDoc, deleteRuleDoc];

/** `/api/rules`. */
export function ruleRoutes(deps: AppDeps) {
  return new Hono()
    .use("*", apiCors(deps.config))
    .route("/", listRulesRoute(deps))
    .route("/", createRuleRoute(deps))
    .route("/", updateRuleRoute(deps))
    .route("/", deleteRuleRoute(deps));
}
