import { COLLECTIONS, PointsSchema, type RuleDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, LabelSchema, RuleOutputSchema, RuleParamsSchema, toRule } from "./rule.ts";

export const UpdateRuleBodySchema = z
  .strictObject(
    {
      points: PointsSchema.optional(),
      label: LabelSchema.optional(),
      active: z.boolean({ error: "must be true or false" }).optional(),
    },
    { error: "must be a JSON object" },
  )
  .refine((body) => Object.keys(body).length > 0, {
    error: "must change at least one of points, label, active",
    // Only for an otherwise valid body: `{ event_type }` is reported as an unknown field, not as an empty change.
    when: (payload) => payload.issues.length === 0,
  })
  .meta({ id: "RuleChange" });

export const updateRuleDoc: RouteDoc = {
  method: "put",
  path: "/api/rules/{id}",
  operationId: "updateRule",
  summary: "Change a scoring rule",
  description:
    "Changes points, label or active (the event type is fixed). Applies to events scored from now on; workers " +
    "reload within a second.",
  tag: "Rules",
  auth: "admin",
  params: RuleParamsSchema,
  body: { schema: UpdateRuleBodySchema },
  responses: { 200: { description: "The updated rule.", schema: RuleOutputSchema } },
  errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function updateRuleRoute(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono().put("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, RuleParamsSchema);
    const body = await parseJsonBody(c, UpdateRuleBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    const changes: Partial<RuleDocument> = { updated_at: new Date((deps.now ?? Date.now)()) };
    if (body.points !== undefined) changes.points = body.points;
    if (body.label !== undefined) changes.label = body.label;
    if (body.active !== undefined) changes.active = body.active;
    const updated = await rules.findOneAndUpdate({ _id: id }, { $set: changes }, { returnDocument: "after" });
    if (updated === null) throw new ApiError("NOT_FOUND", `no rule ${id}`);
    await announceRuleChange(deps, "updated", id);
    return c.json(toRule(updated));
  });
}
