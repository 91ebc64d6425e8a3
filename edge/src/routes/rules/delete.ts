import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, RuleParamsSchema } from "./rule.ts";

export const deleteRuleDoc: RouteDoc = {
  method: "delete",
  path: "/api/rules/{id}",
  operationId: "deleteRule",
  summary: "Delete a scoring rule",
  description:
    "Events of the type score 0 from now on (as with an inactive rule); history keeps the points events were " +
    "scored with.",
  tag: "Rules",
  auth: "admin",
  params: RuleParamsSchema,
  responses: { 204: { description: "Deleted." } },
  errors: ["NOT_FOUND"],
};

export function deleteRuleRoute(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono().delete("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, RuleParamsSchema);
    const { deletedCount } = await rules.deleteOne({ _id: id });
    if (deletedCount === 0) throw new ApiError("NOT_FOUND", `no rule ${id}`);
    await announceRuleChange(deps, "deleted", id);
    return c.body(null, 204);
  });
}
