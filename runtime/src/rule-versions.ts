// Versions and the draft of the rule set. Every stored version is read whole by `_id` (`rule_sets`); the draft is one
// document (`rule_drafts`, `_id: "draft"`) that nothing live reads, so editing it changes no score. Publishing a set
// (the draft, or an earlier version to roll back) is one more write of the rules API's kind (`commitRuleWrite`): the
// `rules` and `rule_groups` collections are replaced by the set's, and it is stored as the next version, which the
// workers load within a second. A version is never moved back to: a rollback stores the old set as a new version.
import {
  COLLECTIONS,
  type FieldProblem,
  parseRuleSet,
  type RuleDocument,
  type RuleDraftDocument,
  type RuleGroup,
  type RuleGroupDocument,
  type RuleSet,
  type RuleSetDocument,
  type RuleV2,
} from "@leadscore/contracts";
import type { Db } from "mongodb";
import {
  commitRuleWrite,
  halfLifeOf,
  type RuleStore,
  RuleWriteError,
  readRuleSet,
  readRulesVersion,
  refuseSecondPlainRule,
  ruleDocument,
} from "./rule-store.ts";

/** A rule set as a draft holds it and a client writes it: no version (it has none until published). */
export interface RuleSetBody {
  rules: RuleV2[];
  groups: RuleGroup[];
  /** Decay's half-life, stored and returned as given (interpreted where decay is). */
  half_life_seconds?: number;
}

/** The longest half-life a set may carry: ten years. */
export const MAX_HALF_LIFE_SECONDS = 10 * 365 * 24 * 3600;

/** What is wrong with a half-life, or null. */
function halfLifeProblem(value: unknown): string | null {
  if (typeof value !== "number") return "must be a number";
  if (!Number.isInteger(value)) return "must be an integer";
  if (value < 1) return "must be at least 1";
  if (value > MAX_HALF_LIFE_SECONDS) return `must be at most ${MAX_HALF_LIFE_SECONDS}`;
  return null;
}

export type ParsedBody = { ok: true; value: RuleSetBody } | { ok: false; details: FieldProblem[] };

/**
 * Checks a whole set as a client sends it (`{ rules, groups, half_life_seconds? }`) with the schema every rules write
 * is checked by (`parseRuleSet`), and v1's one rule without `where` per event type.
 */
export function parseRuleSetBody(raw: unknown): ParsedBody {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, details: [{ path: "(body)", message: "must be a JSON object" }] };
  }
  const { rules, groups, half_life_seconds, ...rest } = raw as Record<string, unknown>;
  const details: FieldProblem[] = Object.keys(rest).map((key) => ({ path: key, message: "unknown field" }));
  if ("version" in rest) details.splice(0, details.length, { path: "version", message: "is set when published" });
  const parsed = parseRuleSet({ version: 0, rules, groups });
  if (!parsed.ok) details.push(...parsed.details);
  let halfLife: number | undefined;
  if (half_life_seconds !== undefined && half_life_seconds !== null) {
    const problem = halfLifeProblem(half_life_seconds);
    if (problem === null) halfLife = half_life_seconds as number;
    else details.push({ path: "half_life_seconds", message: problem });
  }
  if (parsed.ok) details.push(...plainRuleProblems(parsed.value.rules));
  if (details.length > 0 || !parsed.ok) return { ok: false, details };
  return {
    ok: true,
    value: {
      rules: parsed.value.rules,
      groups: parsed.value.groups,
      ...(halfLife !== undefined && { half_life_seconds: halfLife }),
    },
  };
}

/** The rules API's 409 for a second rule of a type without `where`, as a problem at the rule's path. */
function plainRuleProblems(rules: readonly RuleV2[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const docs: RuleDocument[] = [];
  const at = new Date(0);
  rules.forEach((rule, index) => {
    const doc = ruleDocument(rule, at, at);
    try {
      refuseSecondPlainRule(docs, doc);
    } catch (error) {
      if (!(error instanceof RuleWriteError)) throw error;
      problems.push({ path: `rules[${index}].event_type`, message: error.message });
    }
    docs.push(doc);
  });
  return problems;
}

/** The body of a stored set: what a draft copies and a client reads. */
export function bodyOf(set: RuleSet): RuleSetBody {
  const halfLife = halfLifeOf(set);
  return { rules: set.rules, groups: set.groups, ...(halfLife !== null && { half_life_seconds: halfLife }) };
}

/** A stored version as the API lists it. */
export interface VersionSummary {
  version: number;
  published_by: string;
  published_at: Date;
  /** Whether it is the version in force. */
  live: boolean;
  source: "rules" | "draft" | "version";
  restores?: number;
  mode?: "forward" | "retroactive";
  webhooks?: "suppress" | "send";
}

function summaryOf(doc: Omit<RuleSetDocument, "set">, live: number): VersionSummary {
  return {
    version: doc._id,
    published_by: doc.by,
    published_at: doc.at,
    live: doc._id === live,
    source: doc.source ?? "rules",
    ...(doc.restores !== undefined && { restores: doc.restores }),
    ...(doc.mode !== undefined && { mode: doc.mode }),
    ...(doc.webhooks !== undefined && { webhooks: doc.webhooks }),
  };
}

/** Every stored version, newest first (a scan on FerretDB; versions are few and read off the hot paths). */
export async function listRuleSetVersions(db: Db): Promise<VersionSummary[]> {
  const [docs, live] = await Promise.all([
    db
      .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
      .find({}, { projection: { set: 0 } })
      .toArray(),
    readRulesVersion(db),
  ]);
  return docs.sort((a, b) => b._id - a._id).map((doc) => summaryOf(doc, live));
}

/** One stored version whole, or null. */
export async function readRuleSetVersion(
  db: Db,
  version: number,
): Promise<{ summary: VersionSummary; set: RuleSet } | null> {
  const [doc, live] = await Promise.all([
    db.collection<RuleSetDocument>(COLLECTIONS.ruleSets).findOne({ _id: version }),
    readRulesVersion(db),
  ]);
  if (doc === null) return null;
  return { summary: summaryOf(doc, live), set: JSON.parse(doc.set) as RuleSet };
}

/** The draft as the API shows it. */
export interface Draft extends RuleSetBody {
  based_on: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

/** The set a draft holds, without its bookkeeping. */
export function draftBody(draft: Draft): RuleSetBody {
  const { rules, groups, half_life_seconds } = draft;
  return { rules, groups, ...(half_life_seconds !== undefined && { half_life_seconds }) };
}

function draftOf(doc: RuleDraftDocument): Draft {
  return {
    ...(JSON.parse(doc.set) as RuleSetBody),
    based_on: doc.based_on,
    created_at: doc.created_at,
    updated_at: doc.updated_at,
    updated_by: doc.by,
  };
}

const drafts = (db: Db) => db.collection<RuleDraftDocument>(COLLECTIONS.ruleDrafts);

export async function readDraft(db: Db): Promise<Draft | null> {
  const doc = await drafts(db).findOne({ _id: "draft" });
  return doc === null ? null : draftOf(doc);
}

/** A new draft, a copy of the version in force (replacing any draft there was). */
export async function createDraft(store: RuleStore, by = "admin"): Promise<Draft> {
  const current = await readRuleSet(store.db);
  const now = new Date((store.now ?? Date.now)());
  const doc: RuleDraftDocument = {
    _id: "draft",
    set: JSON.stringify(bodyOf(current)),
    based_on: current.version,
    by,
    created_at: now,
    updated_at: now,
  };
  await drafts(store.db).replaceOne({ _id: "draft" }, doc, { upsert: true });
  return draftOf(doc);
}

/** Replaces the draft's set (checked by `parseRuleSetBody` first); creates the draft when there is none. */
export async function saveDraft(store: RuleStore, body: RuleSetBody, by = "admin"): Promise<Draft> {
  const now = new Date((store.now ?? Date.now)());
  const before = await drafts(store.db).findOne({ _id: "draft" });
  const doc: RuleDraftDocument = {
    _id: "draft",
    set: JSON.stringify(body),
    based_on: before?.based_on ?? (await readRulesVersion(store.db)),
    by,
    created_at: before?.created_at ?? now,
    updated_at: now,
  };
  await drafts(store.db).replaceOne({ _id: "draft" }, doc, { upsert: true });
  return draftOf(doc);
}

export interface PublishOptions {
  source: "draft" | "version";
  /** The version published again (a rollback). */
  restores?: number;
  mode: "forward" | "retroactive";
  webhooks: "suppress" | "send";
}

/**
 * Makes `body` the rule set in force: the rules collections replaced by its rules and groups, stored as the next
 * version with how it was published. Returns the version made.
 */
export async function publishRuleSet(store: RuleStore, body: RuleSetBody, options: PublishOptions): Promise<number> {
  const written = await commitRuleWrite(store, (_current, now) => {
    const rules = body.rules.map((rule) => ruleDocument(rule, now, now));
    const groups: RuleGroupDocument[] = body.groups.map((group) => ({ ...group, created_at: now, updated_at: now }));
    return {
      next: { rules, groups },
      write: async (db) => {
        await db.collection<RuleDocument>(COLLECTIONS.rules).deleteMany({});
        if (rules.length > 0) await db.collection<RuleDocument>(COLLECTIONS.rules).insertMany(rules);
        await db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).deleteMany({});
        if (groups.length > 0) await db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).insertMany(groups);
      },
      doc: null,
      record: {
        source: options.source,
        ...(options.restores !== undefined && { restores: options.restores }),
        mode: options.mode,
        webhooks: options.webhooks,
      },
      halfLife: body.half_life_seconds ?? null,
    };
  });
  return written.version;
}
