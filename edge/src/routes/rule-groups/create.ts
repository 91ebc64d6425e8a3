import { RuleGroupSchema } from "@leadscore/contracts";
import { createRuleGroup } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { announceRuleChange, parseRuleBody, RULES_VERSION_HEADER, ruleStoreOf, storeWrite } from "../rules/rule.ts";
import { RuleGroupOutputSchema, toGroup } from "./group.ts";

export const CreateGroupBodySchema = RuleGroupSchema.meta({ id: "RuleGroupInput" });

export const createGroupDoc: RouteDoc = {
  method: "post",
  path: "/api/rule-groups",
  operationId: "createRuleGroup",
  summary: "Create a rule group",
  description:
    "`{ _id?, label, max }`: the points the group's rules add to a lead over its life never exceed `max` " +
    "(negative points always apply). `_id` is a UUID when absent. Makes the next version of the rule set.",
  tag: "Rules",
  auth: "admin",
  body: { schema: CreateGroupBodySchema },
  responses: {
    201: {
      description: "Group created.",
      schema: RuleGroupOutputSchema,
      headers: { Location: "URL of the new group.", [RULES_VERSION_HEADER]: "The version the write made." },
    },
  },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function createGroupRoute(deps: AppDeps) {
  return new Hono().post("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseRuleBody(c, CreateGroupBodySchema, deps);
    const { version, doc } = await storeWrite(createRuleGroup(ruleStoreOf(deps), body));
    await announceRuleChange(deps, "created", { group_id: doc._id }, version);
    c.header("Location", `/api/rule-groups/${encodeURIComponent(doc._id)}`);
    c.header(RULES_VERSION_HEADER, String(version));
    return c.json(toGroup(doc), 201);
  });
}
