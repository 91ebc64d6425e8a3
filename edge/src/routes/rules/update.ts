import { ConditionSchema, EventIdSchema, LabelSchema, PointsSchema, RuleLimitSchema } from "@leadscore/contracts";
import { updateRule } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import {
  announceRuleChange,
  ConditionDocSchema,
  parseRuleBody,
  RULES_VERSION_HEADER,
  RuleOutputSchema,
  RuleParamsSchema,
  ruleStoreOf,
  storeWrite,
  toRule,
} from "./rule.ts";

const CHANGEABLE = ["points", "label", "active", "where", "limit", "group"];

/** The body of a rule change, its `where` checked by `condition` (the contracts' schema; the document's shape). */
function ruleChangeSchema<C extends z.ZodType>(condition: C) {
  return z
    .strictObject(
      {
        points: PointsSchema.optional(),
        label: LabelSchema.optional(),
        active: z.boolean({ error: "must be true or false" }).optional(),
        where: condition.nullable().optional().describe("A new condition tree; null removes it."),
        limit: RuleLimitSchema.nullable().optional().describe("A new limit; null removes it."),
        group: EventIdSchema.nullable().optional().describe("The group's `_id`; null takes the rule out of its group."),
      },
      { error: "must be a JSON object" },
    )
    .refine((body) => Object.keys(body).length > 0, {
      error: `must change at least one of ${CHANGEABLE.join(", ")}`,
      // Only for an otherwise valid body: `{ event_type }` is reported as an unknown field, not as an empty change.
      when: (payload) => payload.issues.length === 0,
    });
}

export const UpdateRuleBodySchema = ruleChangeSchema(ConditionSchema);
const UpdateRuleDocSchema = ruleChangeSchema(ConditionDocSchema).meta({ id: "RuleChange" });

export const updateRuleDoc: RouteDoc = {
  method: "put",
  path: "/api/rules/{id}",
  operationId: "updateRule",
  summary: "Change a scoring rule",
  description:
    "Changes the fields given (points, label, active, where, limit, group); `null` removes `where`, `limit` or " +
    "`group`. The event type and id are fixed. Makes the next version of the rule set; applies to events scored " +
    "from then on; workers reload within a second.",
  tag: "Rules",
  auth: "admin",
  params: RuleParamsSchema,
  body: { schema: UpdateRuleDocSchema },
  responses: {
    200: {
      description: "The updated rule.",
      schema: RuleOutputSchema,
      headers: { [RULES_VERSION_HEADER]: "The version the write made." },
    },
  },
  errors: ["NOT_FOUND", "CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function updateRuleRoute(deps: AppDeps) {
  return new Hono().put("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, RuleParamsSchema);
    const body = await parseRuleBody(c, UpdateRuleBodySchema, deps);
    const { version, doc } = await storeWrite(updateRule(ruleStoreOf(deps), id, body));
    await announceRuleChange(deps, "updated", { rule_id: id }, version);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(toRule(doc));
  });
}
