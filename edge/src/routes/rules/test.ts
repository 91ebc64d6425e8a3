import {
  type CompiledRuleSet,
  compileRuleSet,
  EventTypeSchema,
  LIMIT_PERIODS,
  MetadataSchema,
} from "@leadscore/contracts";
import { readRuleSet } from "@leadscore/runtime";
import { Hono } from "hono";
import { z } from "zod";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { parseRuleBody } from "./rule.ts";

const ProfileFieldSchema = z
  .string({ error: "must be a string or null" })
  .max(256, { error: "must be at most 256 characters" })
  .nullable()
  .optional();

export const RuleTestBodySchema = z
  .strictObject(
    {
      event: z.strictObject(
        {
          event_type: EventTypeSchema,
          metadata: MetadataSchema.optional(),
        },
        { error: "must be a JSON object" },
      ),
      lead: z
        .strictObject(
          { email: ProfileFieldSchema, company: ProfileFieldSchema, name: ProfileFieldSchema },
          { error: "must be a JSON object" },
        )
        .optional()
        .describe("The lead's profile, for conditions on lead.email, lead.company, lead.name; unknown when absent."),
    },
    { error: "must be a JSON object" },
  )
  .meta({ id: "RuleTest" });

export const RuleTestResultSchema = z
  .object({
    rules_version: z.number().int().describe("The rule-set version the event was tested against (the current one)."),
    points: z.number().int().describe("What the matched rules ask, added up, before limits, groups and the cap."),
    matched: z.array(
      z.object({
        rule_id: z.string(),
        label: z.string(),
        points: z.number().int(),
        limit: z
          .object({
            max: z.number().int(),
            per: z.enum(LIMIT_PERIODS),
            field: z.string().optional(),
            key: z.string().optional().describe("The event's value of `field`, as text: its own buckets."),
          })
          .optional(),
        group: z.object({ id: z.string(), max: z.number().int() }).optional(),
      }),
    ),
    missed: z.array(z.object({ rule_id: z.string(), label: z.string(), reason: z.string() })),
    reason: z.string().optional().describe("Present when no rule matches: why the event would score 0."),
  })
  .meta({ id: "RuleTestResult" });

export const testRulesDoc: RouteDoc = {
  method: "post",
  path: "/api/rules/test",
  operationId: "testRules",
  summary: "Test an event against the rules",
  description:
    "Which rules of the current version an event would match (with their points, limit and group) and why each " +
    "other rule does not. The event is checked as ingestion checks it (`event_type`, `metadata`). What the event " +
    "would be given also depends on the lead's earlier events (limits, group maxima, the cap): that is the fold's, " +
    "not this route's. Nothing is stored.",
  tag: "Rules",
  auth: "admin",
  body: { schema: RuleTestBodySchema },
  responses: { 200: { description: "The matched and missed rules.", schema: RuleTestResultSchema } },
  errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
};

export function testRulesRoute(deps: AppDeps) {
  // A stored version never changes: compiled once. Version 0 (the collections, before any write) is read each time.
  let compiled: CompiledRuleSet | undefined;
  return new Hono().post("/test", requireAdmin(deps.config.ADMIN_TOKEN), async (c) => {
    const { event, lead } = await parseRuleBody(c, RuleTestBodySchema, deps);
    const set = await readRuleSet(deps.db);
    if (compiled === undefined || compiled.version !== set.version || set.version === 0) compiled = compileRuleSet(set);
    const labels = new Map(set.rules.map((rule) => [rule._id, rule.label]));
    const { rules_version, matched, missed } = compiled.explain(event, lead);
    return c.json({
      rules_version,
      points: matched.reduce((sum, candidate) => sum + candidate.points, 0),
      matched: matched.map((candidate) => ({
        rule_id: candidate.rule_id,
        label: labels.get(candidate.rule_id) ?? candidate.rule_id,
        points: candidate.points,
        ...(candidate.limit && { limit: candidate.limit }),
        ...(candidate.group && { group: candidate.group }),
      })),
      missed,
      ...(matched.length === 0 && { reason: `no active rule for ${event.event_type} matches: it scores 0` }),
    });
  });
}
