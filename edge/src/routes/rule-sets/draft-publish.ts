import { COLLECTIONS, type RuleDraftDocument } from "@leadscore/contracts";
import { draftBody, readDraft } from "@leadscore/runtime";
import { Hono } from "hono";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { parseRuleBody } from "../rules/rule.ts";
import { PublishBodySchema, publish } from "./publish.ts";
import { RetroactivePublishOutputSchema } from "./rescore.ts";
import { VersionSummarySchema } from "./rule-set.ts";

export const publishDraftDoc: RouteDoc = {
  method: "post",
  path: "/api/rule-sets/draft/publish",
  operationId: "publishRuleSetDraft",
  summary: "Publish the draft",
  description:
    "Makes the draft the rule set in force as the next version (the rules and groups the rules API edits become " +
    "the draft's); workers load it within a second. The draft is used up: the next one starts from this version.",
  tag: "Rule sets",
  auth: "admin",
  body: { schema: PublishBodySchema },
  responses: {
    200: { description: "The version made (`forward`).", schema: VersionSummarySchema },
    202: {
      description: "The version made, and the re-score it started (`retroactive`).",
      schema: RetroactivePublishOutputSchema,
    },
  },
  errors: ["NOT_FOUND", "CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "SERVICE_UNAVAILABLE"],
};

export function publishDraftRoute(deps: AppDeps) {
  return new Hono().post("/draft/publish", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const options = await parseRuleBody(c, PublishBodySchema, deps);
    const draft = await readDraft(deps.db);
    if (draft === null) throw new ApiError("NOT_FOUND", "no draft: POST /api/rule-sets/draft starts one");
    const published = await publish(deps, draftBody(draft), { source: "draft", ...options });
    await deps.db.collection<RuleDraftDocument>(COLLECTIONS.ruleDrafts).deleteOne({ _id: "draft" });
    return c.json(published.body, published.status);
  });
}
