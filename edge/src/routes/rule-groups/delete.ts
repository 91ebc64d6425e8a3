import { deleteRuleGroup } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, RULES_VERSION_HEADER, ruleStoreOf, storeWrite } from "../rules/rule.ts";
import { GroupParamsSchema } from "./group.ts";

export const deleteGroupDoc: RouteDoc = {
  method: "delete",
  path: "/api/rule-groups/{id}",
  operationId: "deleteRuleGroup",
  summary: "Delete a rule group",
  description:
    "Makes the next version of the rule set without the group. A group that rules still name is a 409 listing " +
    "them (one detail per rule): move them out first.",
  tag: "Rules",
  auth: "admin",
  params: GroupParamsSchema,
  responses: { 204: { description: "Deleted.", headers: { [RULES_VERSION_HEADER]: "The version the write made." } } },
  errors: ["NOT_FOUND", "CONFLICT", "SERVICE_UNAVAILABLE"],
};

export function deleteGroupRoute(deps: AppDeps) {
  return new Hono().delete("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, GroupParamsSchema);
    const { version } = await storeWrite(deleteRuleGroup(ruleStoreOf(deps), id));
    await announceRuleChange(deps, "deleted", { group_id: id }, version);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.body(null, 204);
  });
}
