import { bodyOf, readRuleSetVersion } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { parseRuleBody } from "../rules/rule.ts";
import { PublishBodySchema, publish } from "./publish.ts";
import { RetroactivePublishOutputSchema } from "./rescore.ts";
import { VersionParamsSchema, VersionSummarySchema } from "./rule-set.ts";

export const publishVersionDoc: RouteDoc = {
  method: "post",
  path: "/api/rule-sets/{version}/publish",
  operationId: "publishRuleSetVersion",
  summary: "Publish an earlier version again (roll back)",
  description:
    "Makes a stored version's rules, groups and half-life the set in force again, as the next version " +
    "(`source: version`, `restores` naming it): versions only move forward. Any draft is left as it is.",
  tag: "Rule sets",
  auth: "admin",
  params: VersionParamsSchema,
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

export function publishVersionRoute(deps: AppDeps) {
  return new Hono().post("/:version/publish", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { version } = parseParams(c, VersionParamsSchema);
    const options = await parseRuleBody(c, PublishBodySchema, deps);
    const stored = await readRuleSetVersion(deps.db, version);
    if (stored === null) throw new ApiError("NOT_FOUND", `no rule set version ${version}`);
    const published = await publish(deps, bodyOf(stored.set), { source: "version", restores: version, ...options });
    return c.json(published.body, published.status);
  });
}
