import { LabelSchema, RuleGroupSchema } from "@leadscore/contracts";
import { updateRuleGroup } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, parseRuleBody, RULES_VERSION_HEADER, ruleStoreOf, storeWrite } from "../rules/rule.ts";
import { GroupParamsSchema, RuleGroupOutputSchema, toGroup } from "./group.ts";

export const UpdateGroupBodySchema = z
  .strictObject(
    { label: LabelSchema.optional(), max: RuleGroupSchema.shape.max.optional() },
    { error: "must be a JSON object" },
  )
  .refine((body) => Object.keys(body).length > 0, {
    error: "must change at least one of label, max",
    when: (payload) => payload.issues.length === 0,
  })
  .meta({ id: "RuleGroupChange" });

export const updateGroupDoc: RouteDoc = {
  method: "put",
  path: "/api/rule-groups/{id}",
  operationId: "updateRuleGroup",
  summary: "Change a rule group",
  description:
    "Changes the fields given (label, max). Makes the next version of the rule set: events scored from then on " +
    "carry the new max; events scored before keep the max they were scored under.",
  tag: "Rules",
  auth: "admin",
  params: GroupParamsSchema,
  body: { schema: UpdateGroupBodySchema },
  responses: {
    200: {
      description: "The updated group.",
      schema: RuleGroupOutputSchema,
      headers: { [RULES_VERSION_HEADER]: "The version the write made." },
    },
  },
  errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function updateGroupRoute(deps: AppDeps) {
  return new Hono().put("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, GroupParamsSchema);
    const body = await parseRuleBody(c, UpdateGroupBodySchema, deps);
    const { version, doc } = await storeWrite(updateRuleGroup(ruleStoreOf(deps), id, body));
    await announceRuleChange(deps, "updated", { group_id: id }, version);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(toGroup(doc));
  });
}
