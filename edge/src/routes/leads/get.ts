import { mergedInto } from "@leadscore/live";
import { Hono } from "hono";
import { parseParams, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { AsOfQuerySchema, asOfInstant, scoreAsOf } from "./as-of.ts";
import { LeadParamsSchema, type RankedLead, RankedLeadSchema, toLead } from "./lead.ts";
import { answeredFor } from "./resolved.ts";

export const getLeadDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}",
  operationId: "getLead",
  summary: "Get one lead, with its rank",
  description:
    "The lead's live state and its leaderboard position (`rank` of `rank_of`), read from Redis: a hash read, a " +
    "rank and a count, whatever the number of leads. An id merged into another lead (an identify, an admin merge) " +
    "answers that lead: its `_id` is then the lead's, its `merged_from` names the id asked for, and " +
    "`Content-Location` names the lead's own URL. With `as_of`, " +
    "`current_score` and `stage` are the lead's at that instant (decayed with the half-life in force; at most a year " +
    "ahead, and not before the newest page of its history Redis keeps), and `as_of` is echoed; `rank` stays the " +
    "current one.",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  query: AsOfQuerySchema,
  responses: { 200: { description: "The lead.", schema: RankedLeadSchema } },
  errors: ["NOT_FOUND"],
};

export function getLeadRoute(deps: AppDeps) {
  const { redis } = deps;
  /** The lead, its rank and what was merged into it; for a merged id, its root's (one more round trip). */
  const read = async (id: string, root?: string) => {
    const [lead, { rank, of }, merged, alias] = await Promise.all([
      deps.live.lead(id),
      deps.live.rank(id),
      mergedInto(redis, deps.live.keysFor(id), id),
      root === undefined ? redis.hget(deps.live.keysFor(id).aliases, id) : null,
    ]);
    return { lead, rank, of, merged, alias };
  };
  return new Hono().get("/:id", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const { as_of: asOf } = parseQuery(c, AsOfQuerySchema);
    const t = asOf === undefined ? null : asOfInstant(asOf, (deps.now ?? Date.now)());
    let found = await read(id);
    const { alias } = found;
    if (found.lead === null && alias !== null) {
      found = await read(alias, alias);
      answeredFor(c, id, alias);
    }
    const { lead, rank, of, merged } = found;
    if (lead === null) throw new ApiError("NOT_FOUND", `no lead ${id}`);
    const mergedFrom = merged.length > 0 ? { merged_from: merged } : {};
    if (t !== null) {
      const whole = await deps.live.leadWithTail(lead.id);
      const at = scoreAsOf(
        whole?.tail ?? [],
        (whole?.base.count ?? 0) > 0,
        t,
        deps.scoring?.halfLife() ?? null,
        deps.config.STAGE_THRESHOLDS,
      );
      const shown = { ...toLead(lead), current_score: at.score, stage: at.stage };
      return c.json({ ...shown, rank, rank_of: of, ...mergedFrom, as_of: new Date(t).toISOString() });
    }
    return c.json({ ...toLead(lead), rank, rank_of: of, ...mergedFrom } satisfies RankedLead);
  });
}
