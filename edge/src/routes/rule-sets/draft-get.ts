import { readDraft } from "@leadscore/runtime";
import { Hono } from "hono";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { DraftOutputSchema, toDraft } from "./rule-set.ts";

export const getDraftDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-sets/draft",
  operationId: "getRuleSetDraft",
  summary: "Get the draft of the rule set",
  tag: "Rule sets",
  auth: "read",
  responses: { 200: { description: "The draft.", schema: DraftOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getDraftRoute(deps: AppDeps) {
  return new Hono().get("/draft", async (c) => {
    const draft = await readDraft(deps.db);
    if (draft === null) throw new ApiError("NOT_FOUND", "no draft: POST /api/rule-sets/draft starts one");
    return c.json(toDraft(draft));
  });
}
