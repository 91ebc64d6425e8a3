import { COLLECTIONS, DUPLICATE_KEY, type LeadDocument, LeadIdSchema } from "@leadscore/contracts";
import { Hono } from "hono";
import { MongoServerError } from "mongodb";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadSchema, toLead } from "./lead.ts";

const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` });

export const CreateLeadBodySchema = z
  .strictObject(
    {
      _id: LeadIdSchema.optional().describe("Lead id (the `lead_id` of its events); a UUID is minted when absent."),
      name: text(200),
      email: z.email({ error: "must be an email address" }).max(254, { error: "must be at most 254 characters" }),
      company: text(200),
    },
    { error: "must be a JSON object" },
  )
  .meta({ id: "LeadProfile" });

export const createLeadDoc: RouteDoc = {
  method: "post",
  path: "/api/leads",
  operationId: "createLead",
  summary: "Create a lead's profile",
  description:
    "Creates a lead with a profile (201). When events already created the lead and it has no profile yet " +
    "(name, email and company all null), the profile is attached to it (200). A lead that already has a profile " +
    "is never overwritten (409). Score fields belong to the scoring worker and are never written here.",
  tag: "Leads",
  auth: "admin",
  body: { schema: CreateLeadBodySchema },
  responses: {
    201: { description: "Lead created.", schema: LeadSchema, headers: { Location: "URL of the new lead." } },
    200: { description: "Profile attached to a lead that events had created.", schema: LeadSchema },
  },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function createLeadRoute(deps: AppDeps) {
  const leads = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const thresholds = deps.config.STAGE_THRESHOLDS;
  return new Hono().post("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseJsonBody(c, CreateLeadBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    const id = body._id ?? crypto.randomUUID();
    const now = new Date((deps.now ?? Date.now)());
    const profile = { name: body.name, email: body.email, company: body.company };
    // Only profile fields: the worker adds the score fields when it scores the lead's first event.
    const doc = { _id: id, ...profile, created_at: now, updated_at: now };
    try {
      await leads.insertOne(doc as LeadDocument);
      c.header("Location", `/api/leads/${encodeURIComponent(id)}`);
      return c.json(toLead(doc, thresholds), 201);
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    }
    const attached = await leads.findOneAndUpdate(
      { _id: id, name: null, email: null, company: null },
      { $set: { ...profile, updated_at: now } },
      // No projection: FerretDB does not implement one on findAndModify; toLead picks the public fields anyway.
      { returnDocument: "after" },
    );
    if (attached === null)
      throw new ApiError("CONFLICT", `lead ${id} already exists`, [{ path: "_id", message: "is taken" }]);
    return c.json(toLead(attached, thresholds), 200);
  });
}
