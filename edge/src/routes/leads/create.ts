import {
  COLLECTIONS,
  DUPLICATE_KEY,
  type LeadDocument,
  LeadIdSchema,
  stageFor,
  textProblem,
} from "@leadscore/contracts";
import { type Profile, rankKey, setProfile } from "@leadscore/live";
import { Hono } from "hono";
import { MongoServerError } from "mongodb";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadSchema, toLead } from "./lead.ts";

/** A profile field is kept exactly as given: no control character, NUL or lone surrogate (see `textProblem`). */
const storable = (value: string, ctx: z.RefinementCtx) => {
  const message = textProblem(value, true);
  if (message) ctx.addIssue({ code: "custom", message });
};

const text = (max: number) =>
  z
    .string({ error: "must be a string" })
    .trim()
    .min(1, { error: "must not be empty" })
    .max(max, { error: `must be at most ${max} characters` })
    .superRefine(storable);

/** The fields of a profile, as a create or an edit takes them. */
const TEXT_RULE = "no control character or lone UTF-16 surrogate";

export const PROFILE_FIELDS = {
  name: text(200).describe(`1-200 characters, trimmed; ${TEXT_RULE}.`),
  email: z
    .email({ error: "must be an email address" })
    .max(254, { error: "must be at most 254 characters" })
    .superRefine(storable)
    .describe(`An email address of at most 254 characters; ${TEXT_RULE}.`),
  company: text(200).describe(`1-200 characters, trimmed; ${TEXT_RULE}.`),
};

export const CreateLeadBodySchema = z
  .strictObject(
    {
      _id: LeadIdSchema.optional().describe("Lead id (the `lead_id` of its events); a UUID is minted when absent."),
      ...PROFILE_FIELDS,
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
    "Stores the profile in MongoDB (an insert: the first profile for an id wins), then in the lead's live state. " +
    "201 when the lead did not exist; 200 when events had already created it: the profile is attached and its score " +
    "kept. A lead that already has a profile is never overwritten (409), nor is an id merged into another lead " +
    "given one (409). The score belongs to the scoring worker and " +
    "is never written here. Should the live state have missed a stored profile (a crash between the two writes), " +
    "the same request again completes it.",
  tag: "Leads",
  auth: "admin",
  body: { schema: CreateLeadBodySchema },
  responses: {
    201: { description: "Lead created.", schema: LeadSchema, headers: { Location: "URL of the new lead." } },
    200: { description: "Profile attached to a lead that events had created.", schema: LeadSchema },
  },
  errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

const sameProfile = (a: Profile, b: Profile) => a.name === b.name && a.email === b.email && a.company === b.company;

export function createLeadRoute(deps: AppDeps) {
  const profiles = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const zero = { rankKey: rankKey(0, null, deps.config.SCORE_CAP), stage: stageFor(0, deps.config.STAGE_THRESHOLDS) };
  const attach = (id: string, profile: Profile, at: number) =>
    setProfile(deps.redis, deps.live.keysFor(id), id, profile, at, zero);

  return new Hono().post("/", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const body = await parseJsonBody(c, CreateLeadBodySchema, deps.config.BODY_READ_TIMEOUT_MS);
    const id = body._id ?? crypto.randomUUID();
    // A merged id's events go to its root: a profile set on it would list an empty lead beside the root.
    const root = body._id === undefined ? null : await deps.redis.hget(deps.live.keysFor(id).aliases, id);
    if (root !== null) {
      throw new ApiError("CONFLICT", `lead ${id} was merged into ${root}`, [
        { path: "_id", message: "was merged into another lead" },
      ]);
    }
    const now = (deps.now ?? Date.now)();
    const profile: Profile = { name: body.name, email: body.email, company: body.company };
    let existed: boolean;
    try {
      await profiles.insertOne({ _id: id, ...profile, created_at: new Date(now) });
      existed = await attach(id, profile, now);
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
      const live = await deps.live.lead(id);
      const conflict = () =>
        new ApiError("CONFLICT", `lead ${id} already exists`, [{ path: "_id", message: "is taken" }]);
      if (live !== null && (live.name !== null || live.email !== null || live.company !== null)) throw conflict();
      // MongoDB has a profile the live state lacks: the create that stored it stopped before its second write.
      // Reading it back is a scan on FerretDB, paid only on this repair path.
      const stored = await profiles.findOne({ _id: id });
      if (stored === null) throw conflict();
      const storedProfile = { name: stored.name, email: stored.email, company: stored.company };
      await attach(id, storedProfile, now);
      if (!sameProfile(storedProfile, profile)) throw conflict();
      existed = live !== null;
    }
    const lead = await deps.live.lead(id);
    if (lead === null) throw new Error(`lead ${id}: no live state after its profile was set`);
    if (existed) return c.json(toLead(lead), 200);
    c.header("Location", `/api/leads/${encodeURIComponent(id)}`);
    return c.json(toLead(lead), 201);
  });
}
