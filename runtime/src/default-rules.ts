// The default rules, seeded once per deployment by whichever process starts first (the worker, or the edge). A
// marker in `meta` says the seed finished: until it is there the rules collection may hold some of the defaults and
// not the others, so nothing may read it as the rule set (GET /api/events/event-types seeds first, /readyz says
// not ready). Once it is there the stored rules are the rule set, even if a user deleted them all. The seeded set is
// stored as version 1 before the marker, so the first change made to it can be rolled back to it.
import {
  COLLECTIONS,
  DEFAULT_RULES,
  DUPLICATE_KEY,
  type MetaDocument,
  type RuleDocument,
  type RuleSetDocument,
} from "@leadscore/contracts";
import { type Db, MongoServerError } from "mongodb";
import { movePointer, readRuleSet, readRulesVersion } from "./rule-store.ts";

/** `_id` of the `meta` document written once the default rules are in place. */
export const DEFAULT_RULES_SEEDED = "default_rules_seeded";

/** Whether the default rules have been seeded (one read of `meta` by `_id`). */
export async function defaultRulesSeeded(db: Db): Promise<boolean> {
  return (await db.collection<MetaDocument>(COLLECTIONS.meta).findOne({ _id: DEFAULT_RULES_SEEDED })) !== null;
}

/**
 * Seeds the default rules unless they were seeded before, then marks them seeded. A collection holding default event
 * types only is a seed that did not finish (or has not started): its missing defaults are added. One holding a rule
 * of the user's own predates the marker and is left as it is, so a rule the user deleted stays deleted. Each default
 * is an upsert with `$setOnInsert`, so processes seeding at once (or a user creating a rule meanwhile) change nothing
 * of each other's.
 */
export async function seedDefaultRules(db: Db, now = new Date()): Promise<void> {
  if (await defaultRulesSeeded(db)) return;
  const rules = db.collection<RuleDocument>(COLLECTIONS.rules);
  const defaults = new Set(DEFAULT_RULES.map((rule) => rule.event_type));
  const present = await rules.find({}, { projection: { event_type: 1 } }).toArray();
  if (present.every((rule) => defaults.has(rule.event_type))) {
    for (const rule of DEFAULT_RULES) {
      await insertedBySomeone(() =>
        rules.updateOne(
          { event_type: rule.event_type },
          { $setOnInsert: { ...rule, created_at: now, updated_at: now } },
          { upsert: true },
        ),
      );
    }
  }
  await storeFirstVersion(db, now);
  await insertedBySomeone(() =>
    db
      .collection<MetaDocument>(COLLECTIONS.meta)
      .updateOne({ _id: DEFAULT_RULES_SEEDED }, { $setOnInsert: { at: now } }, { upsert: true }),
  );
}

/**
 * Stores the rules as they stand as version 1 where no version was ever stored. A rules write that got there first
 * made version 1 from the same collections (the insert then meets its `_id`), and the pointer never moves back.
 */
async function storeFirstVersion(db: Db, now: Date): Promise<void> {
  if ((await readRulesVersion(db)) > 0) return;
  const set = { ...(await readRuleSet(db)), version: 1 };
  await insertedBySomeone(() =>
    db
      .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
      .insertOne({ _id: 1, set: JSON.stringify(set), by: "seed", at: now }),
  );
  await movePointer(db, 1, now);
}

/**
 * Runs an upsert of `$setOnInsert` only, where a duplicate-key error means another process inserted the same
 * document between the upsert's match and its insert (concurrent upserts may fail so, on MongoDB as on FerretDB):
 * the document is there, which is all the upsert was for.
 */
async function insertedBySomeone(upsert: () => Promise<unknown>): Promise<void> {
  try {
    await upsert();
  } catch (error) {
    if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
  }
}
