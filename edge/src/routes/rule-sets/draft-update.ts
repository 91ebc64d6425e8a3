import { saveDraft } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { ruleStoreOf } from "../rules/rule.ts";
import { DraftOutputSchema, parseSetBody, RuleSetBodyDocSchema, toDraft } from "./rule-set.ts";

export const updateDraftDoc: RouteDoc = {
  method: "put",
  path: "/api/rule-sets/draft",
  operationId: "updateRuleSetDraft",
  summary: "Replace the draft of the rule set",
  description:
    "The whole set, `{ rules, groups, half_life_seconds? }`, checked as every rules write is (bounds, unique ids, " +
    "groups named, one rule without `where` per event type); starts a draft when there is none. Changes nothing live.",
  tag: "Rule sets",
  auth: "admin",
  body: { schema: RuleSetBodyDocSchema },
  responses: { 200: { description: "The draft as saved.", schema: DraftOutputSchema } },
  errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function updateDraftRoute(deps: AppDeps) {
  return new Hono().put("/draft", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseSetBody(c, deps);
    return c.json(toDraft(await saveDraft(ruleStoreOf(deps), body)));
  });
}
