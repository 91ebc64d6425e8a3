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
    "One entry per active rule, by event type. The default rules are seeded once per deployment (by the worker " +
    "or the edge at start); a request that comes first finishes the seed before it answers, so the answer is " +
    "always the stored rule set, never part of it. Any other event type is accepted too and scores 0.",
  tag: "Events",
  auth: "read",
  responses: { 200: { description: "Scoring event types.", schema: z.array(EventTypeOptionSchema) } },
};

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
      const stored = await rules.find({}, { projection: { event_type: 1, label: 1, points: 1, active: 1 } }).toArray();
      const options = stored
        .filter((rule) => rule.active)
        .map((rule) => ({ value: rule.event_type, label: rule.label, points: rule.points }))
        .sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
      return c.json(options);
    });
}
