import { deleteRule } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, RULES_VERSION_HEADER, RuleParamsSchema, ruleStoreOf, storeWrite } from "./rule.ts";

export const deleteRuleDoc: RouteDoc = {
  method: "delete",
  path: "/api/rules/{id}",
  operationId: "deleteRule",
  summary: "Delete a scoring rule",
  description:
    "Makes the next version of the rule set without the rule: events it matched score 0 from then on (as with an " +
    "inactive rule) unless another rule matches them; history keeps the points events were scored with.",
  tag: "Rules",
  auth: "admin",
  params: RuleParamsSchema,
  responses: { 204: { description: "Deleted.", headers: { [RULES_VERSION_HEADER]: "The version the write made." } } },
  errors: ["NOT_FOUND", "SERVICE_UNAVAILABLE"],
};

export function deleteRuleRoute(deps: AppDeps) {
  return new Hono().delete("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, RuleParamsSchema);
    const { version } = await storeWrite(deleteRule(ruleStoreOf(deps), id));
    await announceRuleChange(deps, "deleted", { rule_id: id }, version);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.body(null, 204);
  });
}
