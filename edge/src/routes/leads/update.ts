import { COLLECTIONS, type ProfileEditDocument, stageFor } from "@leadscore/contracts";
import { type Profile, rankKey, setProfile } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { PROFILE_FIELDS } from "./create.ts";
import { LeadParamsSchema, LeadSchema, toLead } from "./lead.ts";

export const UpdateLeadBodySchema = z
  .strictObject(
    {
      name: PROFILE_FIELDS.name.nullable().optional(),
      email: PROFILE_FIELDS.email.nullable().optional(),
      company: PROFILE_FIELDS.company.nullable().optional(),
    },
    { error: "must be a JSON object" },
  )
  .refine((body) => body.name !== undefined || body.email !== undefined || body.company !== undefined, {
    error: "name, email or company is required",
  })
  .meta({ id: "LeadProfileEdit" });

export const updateLeadDoc: RouteDoc = {
  method: "patch",
  path: "/api/leads/{id}",
  operationId: "updateLead",
  summary: "Edit a lead's profile",
  description:
    "Changes the fields given (name, email, company); the others are kept, and `null` clears one. The edit is inserted into MongoDB's " +
    "`profile_edits` (an insert: no update, no read there) and then set in the lead's live state in Redis, which " +
    "every read serves; a rebuild takes the newest of a lead's profile and its edits. The score is never touched.",
  tag: "Leads",
  auth: "admin",
  params: LeadParamsSchema,
  body: { schema: UpdateLeadBodySchema },
  responses: { 200: { description: "The lead, with its new profile.", schema: LeadSchema } },
  errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function updateLeadRoute(deps: AppDeps) {
  const edits = deps.db.collection<ProfileEditDocument>(COLLECTIONS.profileEdits);
  const zero = { rankKey: rankKey(0, null, deps.config.SCORE_CAP), stage: stageFor(0, deps.config.STAGE_THRESHOLDS) };

  return new Hono().patch("/:id", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const body = await parseJsonBody(c, UpdateLeadBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    const live = await deps.live.lead(id);
    if (live === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    const now = (deps.now ?? Date.now)();
    // A field left out keeps its value; null clears it.
    const profile: Profile = {
      name: body.name === undefined ? live.name : body.name,
      email: body.email === undefined ? live.email : body.email,
      company: body.company === undefined ? live.company : body.company,
    };
    await edits.insertOne({ _id: crypto.randomUUID(), lead_id: id, ...profile, at: new Date(now) });
    await setProfile(deps.redis, deps.live.keysFor(id), id, profile, now, zero);
    const lead = await deps.live.lead(id);
    if (lead === null) throw new Error(`lead ${id}: no live state after its profile was set`);
    return c.json(toLead(lead));
  });
}
