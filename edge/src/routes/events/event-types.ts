import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { seedDefaultRules } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { apiCors } from "../../api/cors.ts";
import { NoQuerySchema, parseQuery } from "../../api/query.ts";
import { requireReader } from "../../auth/read.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";

export const EventTypeOptionSchema = z
  .object({ value: z.string(), label: z.string(), points: z.number().int() })
  .meta({ id: "EventType" });

export const eventTypesDoc: RouteDoc = {
  method: "get",
  path: "/api/events/event-types",
  operationId: "listEventTypes",
  summary: "Event types that score",
  description:
    "One entry per event type with an active rule, by event type. Its label and points are those of the type's " +
    "active rule without `where` (what every event of the type earns, limits and groups aside), or, for a type " +
    "scored only by rules with conditions, those of its rule with the most points (ties: the lowest id). The " +
    "default rules are seeded once per deployment (by the worker " +
    "or the edge at start); a request that comes first finishes the seed before it answers, so the answer is " +
    "always the stored rule set, never part of it. Any other event type is accepted too and scores 0.",
  tag: "Events",
  auth: "read",
  responses: { 200: { description: "Scoring event types.", schema: z.array(EventTypeOptionSchema) } },
};

type Candidate = Pick<RuleDocument, "_id" | "points" | "where">;

/** Whether `rule` stands for its event type rather than `held`: no condition first, then most points, lowest id. */
function representsBetter(rule: Candidate, held: Candidate): boolean {
  const plain = rule.where === undefined;
  if (plain !== (held.where === undefined)) return plain;
  if (rule.points !== held.points) return rule.points > held.points;
  return rule._id < held._id;
}

/** `GET /api/events/event-types`; mounted before the ingestion routes so nothing there shadows it. */
export function eventTypesRoutes(deps: AppDeps) {
  const rules = deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  return new Hono()
    .use("/event-types", apiCors(deps.config))
    .get("/event-types", requireReader(deps.config), async (c) => {
      parseQuery(c, NoQuerySchema);
      // Right after a fresh start the seed may not have run, or be half done: finish it first (a no-op once done:
      // one read by `_id`), so the answer is the stored rule set, never part of the defaults.
      await seedDefaultRules(deps.db);
      const stored = await rules
        .find({}, { projection: { event_type: 1, label: 1, points: 1, active: 1, where: 1 } })
        .toArray();
      const byType = new Map<string, Pick<RuleDocument, "_id" | "label" | "points" | "where">>();
      for (const rule of stored) {
        if (!rule.active) continue;
        const held = byType.get(rule.event_type);
        if (held === undefined || representsBetter(rule, held)) byType.set(rule.event_type, rule);
      }
      const options = [...byType]
        .map(([value, rule]) => ({ value, label: rule.label, points: rule.points }))
        .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      return c.json(options);
    });
}
