import { COLLECTIONS, type LeadDocument } from "@leadscore/contracts";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LEAD_PROJECTION, LeadParamsSchema, LeadSchema, toLead } from "./lead.ts";

export const getLeadDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}",
  operationId: "getLead",
  summary: "Get one lead",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  responses: { 200: { description: "The lead.", schema: LeadSchema } },
  errors: ["NOT_FOUND"],
};

export function getLeadRoute(deps: AppDeps) {
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  return new Hono().get("/:id", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const doc = await leads.findOne({ _id: id }, { projection: LEAD_PROJECTION });
    if (doc === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    return c.json(toLead(doc, deps.config.STAGE_THRESHOLDS));
  });
}
