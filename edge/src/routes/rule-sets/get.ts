import { bodyOf, readRuleSetVersion } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { toSummary, VersionOutputSchema, VersionParamsSchema } from "./rule-set.ts";

export const getVersionDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-sets/{version}",
  operationId: "getRuleSetVersion",
  summary: "Get one version of the rule set",
  description: "The version whole: its rules, groups and half-life, with who published it and when.",
  tag: "Rule sets",
  auth: "read",
  params: VersionParamsSchema,
  responses: { 200: { description: "The version.", schema: VersionOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getVersionRoute(deps: AppDeps) {
  return new Hono().get("/:version", async (c) => {
    const { version } = parseParams(c, VersionParamsSchema);
    const found = await readRuleSetVersion(deps.db, version);
    if (found === null) throw new ApiError("NOT_FOUND", `no rule set version ${version}`);
    return c.json({ ...toSummary(found.summary), ...bodyOf(found.set) });
  });
}
