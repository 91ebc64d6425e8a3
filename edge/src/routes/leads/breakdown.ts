import type { LeadBreakdown } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { parseParams } from "../../api/query.ts";
import { createRuleLabels, type RuleLabels } from "../../api/rule-labels.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { scoreNumber } from "../../openapi/score.ts";
import { LeadParamsSchema } from "./lead.ts";
import { readResolved } from "./resolved.ts";

/** A lead's score by group and by rule: every point of it explained. */
export const BreakdownSchema = z
  .object({
    lead_id: z.string(),
    score: scoreNumber(
      "The score as the lead's last event left it: the rules' points add up to it without decay; with decay they " +
        "add up to more, time having taken the rest.",
    ),
    rules_version: z
      .number()
      .int()
      .nullable()
      .describe("The rule-set version the lead's newest event was scored with (null: v1 rules, or no event yet)."),
    groups: z.array(
      z.object({
        group: z.string(),
        label: z
          .string()
          .optional()
          .describe("The group's label in the rule set in force (absent: no such group now)."),
        max: z.number().int().describe("The group's max as the lead's events were scored."),
        points: scoreNumber("What the group's rules gave the score."),
        events: z.number().int().describe("Events at least one of its rules matched."),
      }),
    ),
    rules: z.array(
      z.object({
        rule_id: z.string(),
        label: z.string().optional().describe("The rule's label in the rule set in force (absent: no such rule now)."),
        group: z.string().nullable(),
        points: scoreNumber("What the rule gave the score, after limits, group maxima and bounds."),
        events: z.number().int().describe("Events the rule matched, whether or not it gave them points."),
      }),
    ),
    unmatched: z.number().int().describe("Events no rule matched (they scored 0)."),
  })
  .meta({ id: "Breakdown" });
export type Breakdown = z.infer<typeof BreakdownSchema>;

export const breakdownDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/{id}/breakdown",
  operationId: "getLeadBreakdown",
  summary: "Why a lead has its score",
  description:
    "The current score by group and by rule (points given and events matched), highest first, and the events no " +
    "rule matched: kept with the lead's live state as its events are folded, so this is one hash read in Redis, " +
    "whatever the length of its history. An id merged into another lead answers that lead's breakdown " +
    "(`Content-Location` names its URL).",
  tag: "Leads",
  auth: "read",
  params: LeadParamsSchema,
  responses: { 200: { description: "The lead's score, explained.", schema: BreakdownSchema } },
  errors: ["NOT_FOUND"],
};

const byPoints =
  <T extends { points: number }>(id: (item: T) => string) =>
  (a: T, b: T) =>
    b.points - a.points || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0);

export function toBreakdown(leadId: string, live: LeadBreakdown, labels?: RuleLabels): Breakdown {
  const ruleLabel = (id: string) => labels?.rules.get(id);
  const groupLabel = (id: string) => labels?.groups.get(id)?.label;
  return {
    lead_id: leadId,
    score: live.score,
    rules_version: live.rulesVersion,
    groups: [...live.groups]
      .map(([group, { max, points, events }]) => ({ group, ...label(groupLabel(group)), max, points, events }))
      .sort(byPoints((item) => item.group)),
    rules: [...live.rules]
      .map(([rule_id, { group, points, events }]) => ({ rule_id, ...label(ruleLabel(rule_id)), group, points, events }))
      .sort(byPoints((item) => item.rule_id)),
    unmatched: live.unmatched,
  };
}

const label = (text: string | undefined) => (text === undefined ? {} : { label: text });

export function breakdownRoute(deps: AppDeps) {
  const labels = createRuleLabels(deps.db, deps.log);
  return new Hono().get("/:id/breakdown", async (c) => {
    const { id } = parseParams(c, LeadParamsSchema);
    const [{ leadId, value: live }, named] = await Promise.all([
      readResolved(deps, c, id, (lead) => deps.live.breakdown(lead)),
      labels.labels(),
    ]);
    return c.json(toBreakdown(leadId, live, named));
  });
}
