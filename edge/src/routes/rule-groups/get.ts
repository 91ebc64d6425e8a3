import { COLLECTIONS, type RuleGroupDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { GroupParamsSchema, RuleGroupOutputSchema, toGroup } from "./group.ts";

export const getGroupDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-groups/{id}",
  operationId: "getRuleGroup",
  summary: "Get a rule group",
  tag: "Rules",
  auth: "read",
  params: GroupParamsSchema,
  responses: { 200: { description: "The group.", schema: RuleGroupOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getGroupRoute(deps: AppDeps) {
  const groups = deps.db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups);
  return new Hono().get("/:id", async (c) => {
    const { id } = parseParams(c, GroupParamsSchema);
    const doc = await groups.findOne({ _id: id });
    if (doc === null) throw new ApiError("NOT_FOUND", `no rule group ${id}`);
    return c.json(toGroup(doc));
  });
}
