// Where the scoring rules are read from: the version in force (`meta` → `rules_version`) and that version as it was
// stored whole (`rule_sets`, by `_id`), two reads by `_id`. A deployment whose rules predate versions has no stored
// version: its rule set is the `rules` and `rule_groups` collections as they are, version 0.
import {
  COLLECTIONS,
  type Condition,
  RULES_VERSION,
  type RuleDocument,
  type RuleGroup,
  type RuleGroupDocument,
  type RuleSet,
  type RuleSetDocument,
  type RulesVersionDocument,
  type RuleV2,
} from "@leadscore/contracts";
import type { Db } from "mongodb";

/** A stored rule as a rule set holds it. */
export function ruleOfDocument(doc: RuleDocument): RuleV2 {
  return {
    _id: String(doc._id),
    label: doc.label,
    event_type: doc.event_type,
    points: doc.points,
    active: doc.active === true,
    ...(doc.where !== undefined && { where: JSON.parse(doc.where) as Condition }),
    ...(doc.limit !== undefined && { limit: doc.limit as RuleV2["limit"] }),
    ...(doc.group !== undefined && { group: doc.group }),
  };
}

export function groupOfDocument(doc: RuleGroupDocument): RuleGroup {
  return { _id: String(doc._id), label: doc.label, max: doc.max };
}

/** The rule set in force: the stored version `meta` points at, or the rules collections as version 0. */
export async function readRuleSet(db: Db): Promise<RuleSet> {
  const pointer = await db
    .collection<RulesVersionDocument>(COLLECTIONS.meta)
    .findOne({ _id: RULES_VERSION } as Partial<RulesVersionDocument>);
  if (pointer !== null) {
    const stored = await db.collection<RuleSetDocument>(COLLECTIONS.ruleSets).findOne({ _id: pointer.value });
    if (stored !== null) return JSON.parse(stored.set) as RuleSet;
  }
  const [rules, groups] = await Promise.all([
    db.collection<RuleDocument>(COLLECTIONS.rules).find({}).toArray(),
    db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).find({}).toArray(),
  ]);
  return {
    version: 0,
    rules: rules.filter((doc) => Number.isInteger(doc.points)).map(ruleOfDocument),
    groups: groups.map(groupOfDocument),
  };
}
