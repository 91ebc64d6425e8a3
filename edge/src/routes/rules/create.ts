import { COLLECTIONS, DUPLICATE_KEY, EventTypeSchema, PointsSchema, type RuleDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { MongoServerError } from "mongodb";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, LabelSchema, labelFor, RuleOutputSchema, toRule } from "./rule.ts";

export const CreateRuleBodySchema = z
  .strictObject(
    {
      event_type: EventTypeSchema,
      points: PointsSchema.describe("Added to the score for each event of this type; −1000..1000."),
      label: LabelSchema.optional().describe("Display name; derived from the event type when absent."),
      active: z.boolean({ error: "must be true or false" }).default(true),
    },
    { error: "must be a JSON object" },
  )
  .meta({ id: "RuleInput" });

export const createRuleDoc: RouteDoc = {
  method: "post",
  path: "/api/rules",
  operationId: "createRule",
  summary: "Create a scoring rule",
  description:
    "The rule's id is its event type. Workers reload their rules within a second. Events already scored keep " +
    "the points they were scored with.",
  tag: "Rules",
  auth: "admin",
  body: { schema: CreateRuleBodySchema },
  responses: {
    201: { description: "Rule created.", schema: RuleOutputSchema, headers: { Location: "URL of the new rule." } },
  },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function createRuleRoute(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono().post("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseJsonBody(c, CreateRuleBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    const now = new Date((deps.now ?? Date.now)());
    const doc: RuleDocument = {
      _id: body.event_type,
      event_type: body.event_type,
      points: body.points,
      active: body.active,
      label: body.label ?? labelFor(body.event_type),
      created_at: now,
      updated_at: now,
    };
    // The unique index on event_type also catches a rule stored under another id.
    try {
      await rules.insertOne(doc);
    } catch (error) {
      if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) {
        throw new ApiError("CONFLICT", `a rule for ${body.event_type} already exists`, [
          { path: "event_type", message: "already has a rule" },
        ]);
      }
      throw error;
    }
    await announceRuleChange(deps, "created", doc._id);
    c.header("Location", `/api/rules/${encodeURIComponent(doc._id)}`);
    return c.json(toRule(doc), 201);
  });
}
