import { createDraft } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { ruleStoreOf } from "../rules/rule.ts";
import { DraftOutputSchema, toDraft } from "./rule-set.ts";

export const createDraftDoc: RouteDoc = {
  method: "post",
  path: "/api/rule-sets/draft",
  operationId: "createRuleSetDraft",
  summary: "Start a draft of the rule set",
  description:
    "A copy of the version in force to edit, replacing any draft there was. Nothing live reads a draft: editing it " +
    "changes no score until it is published.",
  tag: "Rule sets",
  auth: "admin",
  responses: {
    201: { description: "The new draft.", schema: DraftOutputSchema, headers: { Location: "The draft's URL." } },
  },
};

export function createDraftRoute(deps: AppDeps) {
  return new Hono().post("/draft", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const draft = await createDraft(ruleStoreOf(deps));
    c.header("Location", "/api/rule-sets/draft");
    return c.json(toDraft(draft), 201);
  });
}
