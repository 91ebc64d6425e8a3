import { MergeLeadSchema } from "@leadscore/contracts";
import { Hono } from "hono";
import { z } from "zod";
import { parseJsonBody } from "../../api/body.ts";
import { parseParams } from "../../api/query.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { mergesOf } from "../../identity/merges.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { LeadParamsSchema } from "./lead.ts";

const MergeQueuedSchema = z
  .object({
    success: z.literal(true),
    from: z.string(),
    into: z.string().describe("The lead `from` now resolves to."),
  })
  .meta({ id: "MergeQueued" });

export const mergeLeadDoc: RouteDoc = {
  method: "post",
  path: "/api/leads/{id}/merge",
  operationId: "mergeLead",
  summary: "Merge another known lead into this one",
  description:
    "Admin only: the lead `from` (which may have a profile, and ids merged into it) joins this lead. Its history is " +
    "folded into this lead's as one (limits, groups and decay across both), it leaves every list, and its id " +
    "resolves to this lead from then on. The merge is recorded with its `reason` in MongoDB's `identities` (the " +
    "audit). 202 once queued; 200 when `from` already resolves here; 409 when it resolves elsewhere or the merge " +
    "would loop; 404 when either lead does not exist. Of two opposite merges of the same two leads in two lead " +
    "partitions at the same moment (both answered 202), the one recorded first happens and the other is a no-op.",
  tag: "Leads",
  auth: "admin",
  params: LeadParamsSchema,
  body: { schema: MergeLeadSchema },
  responses: {
    202: { description: "Queued.", schema: MergeQueuedSchema },
    200: { description: "Nothing to do: `from` already resolves to this lead.", schema: MergeQueuedSchema },
  },
  errors: ["NOT_FOUND", "CONFLICT", "SERVICE_UNAVAILABLE"],
};

export function mergeLeadRoute(deps: AppDeps) {
  const merges = mergesOf(deps);
  return new Hono().post("/:id/merge", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const body = await parseJsonBody(c, MergeLeadSchema, deps.config.BODY_READ_TIMEOUT_MS);
    const answer = await merges.adminMerge(id, body.from, body.reason);
    return c.json({ success: true, from: answer.from, into: answer.into }, answer.status);
  });
}
