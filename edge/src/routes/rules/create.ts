import { RuleV2Schema } from "@leadscore/contracts";
import { createRule } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import {
  announceRuleChange,
  ConditionDocSchema,
  parseRuleBody,
  RULES_VERSION_HEADER,
  RuleOutputSchema,
  ruleStoreOf,
  storeWrite,
  toRule,
} from "./rule.ts";

export const CreateRuleBodySchema = RuleV2Schema;
const CreateRuleDocSchema = RuleV2Schema.extend({
  where: ConditionDocSchema.optional().describe("A condition tree (absent: every event of the type)."),
}).meta({ id: "RuleInput" });

export const createRuleDoc: RouteDoc = {
  method: "post",
  path: "/api/rules",
  operationId: "createRule",
  summary: "Create a scoring rule",
  description:
    "A v1 body `{ event_type, points }` works as before: the rule's id is its event type. `_id` is generated when " +
    "absent (the event type, or the event type and a random suffix when a rule has that id). Several rules may " +
    "score one type, but only one of them may lack `where` (409). The write makes the next version of the rule " +
    "set (`X-Rules-Version`); workers reload within a second. Events already scored keep the points they were " +
    "scored with. Bounds (depth ≤ 6, ≤ 32 leaves, values ≤ 256 characters, ≤ 200 rules) and a `group` naming no " +
    "group are 400s naming the path (`where.all[2].value`, `group`).",
  tag: "Rules",
  auth: "admin",
  body: { schema: CreateRuleDocSchema },
  responses: {
    201: {
      description: "Rule created.",
      schema: RuleOutputSchema,
      headers: { Location: "URL of the new rule.", [RULES_VERSION_HEADER]: "The version the write made." },
    },
  },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function createRuleRoute(deps: AppDeps) {
  return new Hono().post("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseRuleBody(c, CreateRuleBodySchema, deps);
    const { version, doc } = await storeWrite(createRule(ruleStoreOf(deps), body));
    await announceRuleChange(deps, "created", { rule_id: doc._id }, version);
    c.header("Location", `/api/rules/${encodeURIComponent(doc._id)}`);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(toRule(doc), 201);
  });
}
