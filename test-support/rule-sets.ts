// Rule sets (scoring model v2) for tests and benches, and how to put one in force in a database.
import {
  type Candidate,
  COLLECTIONS,
  RULES_VERSION,
  type RuleSet,
  type RuleSetDocument,
  type RulesVersionDocument,
  type ScorableEventV2,
} from "@leadscore/contracts";
import type { Db } from "mongodb";

/** An event of lead `lead-1` as the v2 fold takes it, received when it happened, scored under rules version 1. */
export function scoredEvent(
  id: string,
  timestamp: number,
  candidates: Candidate[],
  type = "page_view",
): ScorableEventV2 {
  return {
    event_id: id,
    lead_id: "lead-1",
    event_type: type,
    timestamp,
    received_at: timestamp,
    candidates,
    rules_version: 1,
  };
}

/** The issue's example: pricing views 20 at most 3 a day; email opens 5, once per email, group email max 60. */
export const ISSUE_EXAMPLE_RULES: RuleSet = {
  version: 3,
  groups: [{ _id: "email", label: "Email", max: 60 }],
  rules: [
    {
      _id: "pricing",
      label: "Pricing page",
      event_type: "page_view",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 3, per: "day" },
      active: true,
    },
    {
      _id: "open",
      label: "Email open",
      event_type: "email_open",
      points: 5,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
      active: true,
    },
  ],
};

/** Puts a rule set in force, as the rules API does: stored whole, the `meta` pointer at its version. */
export async function putRuleSet(db: Db, set: RuleSet, by = "test"): Promise<void> {
  const at = new Date();
  await db
    .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
    .insertOne({ _id: set.version, set: JSON.stringify(set), by, at });
  await db.collection<RulesVersionDocument>(COLLECTIONS.meta).insertOne({ _id: RULES_VERSION, value: set.version, at });
}
