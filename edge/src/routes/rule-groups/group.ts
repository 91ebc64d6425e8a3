import { EventIdSchema, type RuleGroupDocument } from "@leadscore/contracts";
import { z } from "zod";
import { timesOf } from "../rules/rule.ts";

export const GroupParamsSchema = z.strictObject({ id: EventIdSchema.describe("The group's id.") });

const isoDate = z.iso.datetime();

export const RuleGroupOutputSchema = z
  .object({
    _id: z.string(),
    label: z.string(),
    max: z.number().int().describe("Most points the group's rules add to one lead over its life."),
    created_at: isoDate,
    updated_at: isoDate,
  })
  .meta({ id: "RuleGroup" });
export type RuleGroupOutput = z.infer<typeof RuleGroupOutputSchema>;

export function toGroup(doc: RuleGroupDocument): RuleGroupOutput {
  return { _id: doc._id, label: doc.label, max: doc.max, ...timesOf(doc) };
}
