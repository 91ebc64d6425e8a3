// Where the scoring rules are read from: the version in force (`meta` → `rules_version`) and that version as it was
// stored whole (`rule_sets`, by `_id`), two reads by `_id`. A deployment whose rules predate versions has no stored
// version: its rule set is the `rules` and `rule_groups` collections as they are, version 0.
import {
  COLLECTIONS,
  type Condition,
  DUPLICATE_KEY,
  type FieldProblem,
  formatPath,
  RULES_VERSION,
  type RuleDocument,
  type RuleGroup,
  type RuleGroupDocument,
  type RuleLimit,
  type RuleSet,
  type RuleSetDocument,
  RuleSetSchema,
  type RulesVersionDocument,
  type RuleV2,
} from "@leadscore/contracts";
import type { Redis } from "ioredis";
import { type Db, type Filter, MongoServerError } from "mongodb";
import { createLock } from "./lock.ts";

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
  const pointer = await readPointer(db);
  if (pointer !== null) {
    const stored = await db.collection<RuleSetDocument>(COLLECTIONS.ruleSets).findOne({ _id: pointer });
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

// Writes. Every write of a rule or group makes the next version: under one lock per deployment, it reads the
// collections (the editable current version), applies the change in memory, checks the whole set (`RuleSetSchema`),
// writes the change to the collections, stores the set as version latest + 1 (`_id`: a second writer that somehow
// got there first makes the insert fail, and the set is built again) and moves the `meta` pointer forward (never
// back). So concurrent writes make one version each, in the order they took the lock, and each version holds every
// write before it. The caller then announces the change on the rules channel.

/** How long a write waits by default for another to finish before giving up (503). */
const WRITE_WAIT_MS = 10_000;
const WRITE_LOCK_TTL_MS = 10_000;

/** The Redis key of the lock every rule or group write takes. */
export function rulesWriteLockKey(prefix: string): string {
  return `${prefix}:rules-write-lock`;
}

/** A write the store refused: `code` is the API's error code for it. */
export class RuleWriteError extends Error {
  override name = "RuleWriteError";
  constructor(
    readonly code: "VALIDATION_FAILED" | "NOT_FOUND" | "CONFLICT" | "SERVICE_UNAVAILABLE",
    message: string,
    readonly details: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export interface RuleStore {
  db: Db;
  /** Holds the write lock. */
  redis: Redis;
  redisPrefix: string;
  now?: () => number;
  /** How long a write waits for the lock (default 10 s). */
  lockWaitMs?: number;
}

/** A rule as a client writes it, checked (`RuleV2Schema`): `_id` and `label` are settled here when absent. */
export type RuleInput = Omit<RuleV2, "_id" | "label"> & { _id?: string; label?: string };
/** The fields a `PUT` changes; `null` removes `where`, `limit` or `group`. */
export interface RuleChanges {
  points?: number;
  label?: string;
  active?: boolean;
  where?: Condition | null;
  limit?: RuleLimit | null;
  group?: string | null;
}
export type GroupInput = Omit<RuleGroup, "_id"> & { _id?: string };
export type GroupChanges = Partial<Omit<RuleGroup, "_id">>;

export interface Written<T> {
  /** The version the write made. */
  version: number;
  /** The document as written (null for a delete). */
  doc: T;
}

/** The version in force: what `meta` points at, 0 where no version was ever stored. */
export async function readRulesVersion(db: Db): Promise<number> {
  return (await readPointer(db)) ?? 0;
}

/** The version `meta` points at, null where no version was ever stored. */
async function readPointer(db: Db): Promise<number | null> {
  const pointer = await db
    .collection<RulesVersionDocument>(COLLECTIONS.meta)
    .findOne({ _id: RULES_VERSION } as Partial<RulesVersionDocument>);
  return pointer?.value ?? null;
}

/** "demo_request" → "Demo Request": a rule's label when none is given. */
export function labelFor(eventType: string): string {
  return eventType
    .split("_")
    .filter((word) => word.length > 0)
    .map((word) => word[0]?.toUpperCase() + word.slice(1))
    .join(" ");
}

export function createRule(store: RuleStore, input: RuleInput): Promise<Written<RuleDocument>> {
  return commit(store, ({ rules, groups }, now) => {
    if (input._id !== undefined && rules.some((rule) => rule._id === input._id)) {
      throw new RuleWriteError("CONFLICT", `a rule ${input._id} already exists`, [
        { path: "_id", message: "is taken" },
      ]);
    }
    // A rule created without an id takes its event type, as the default rules do, unless a rule has it already.
    const id =
      input._id ??
      (rules.some((rule) => rule._id === input.event_type)
        ? `${input.event_type}-${crypto.randomUUID().slice(0, 8)}`
        : input.event_type);
    const doc = ruleDocument({ ...input, _id: id, label: input.label ?? labelFor(input.event_type) }, now, now);
    refuseSecondPlainRule(rules, doc);
    return {
      next: { rules: [...rules, doc], groups },
      focus: { list: "rules", id },
      write: (db) => db.collection<RuleDocument>(COLLECTIONS.rules).insertOne(doc),
      doc,
    };
  });
}

export function updateRule(store: RuleStore, id: string, changes: RuleChanges): Promise<Written<RuleDocument>> {
  return commit(store, ({ rules, groups }, now) => {
    const before = rules.find((rule) => rule._id === id);
    if (before === undefined) throw new RuleWriteError("NOT_FOUND", `no rule ${id}`);
    const rule = ruleOfDocument(before);
    const changed: RuleV2 = { ...rule };
    if (changes.points !== undefined) changed.points = changes.points;
    if (changes.label !== undefined) changed.label = changes.label;
    if (changes.active !== undefined) changed.active = changes.active;
    if (changes.where !== undefined) changed.where = changes.where ?? undefined;
    if (changes.limit !== undefined) changed.limit = changes.limit ?? undefined;
    if (changes.group !== undefined) changed.group = changes.group ?? undefined;
    const doc = ruleDocument(changed, before.created_at ?? before.updated_at ?? now, now);
    refuseSecondPlainRule(rules, doc);
    return {
      next: { rules: rules.map((other) => (other._id === id ? doc : other)), groups },
      focus: { list: "rules", id },
      write: (db) => db.collection<RuleDocument>(COLLECTIONS.rules).replaceOne({ _id: id }, doc),
      doc,
    };
  });
}

export function deleteRule(store: RuleStore, id: string): Promise<Written<null>> {
  return commit(store, ({ rules, groups }) => {
    if (!rules.some((rule) => rule._id === id)) throw new RuleWriteError("NOT_FOUND", `no rule ${id}`);
    return {
      next: { rules: rules.filter((rule) => rule._id !== id), groups },
      write: (db) => db.collection<RuleDocument>(COLLECTIONS.rules).deleteOne({ _id: id }),
      doc: null,
    };
  });
}

export function createRuleGroup(store: RuleStore, input: GroupInput): Promise<Written<RuleGroupDocument>> {
  return commit(store, ({ rules, groups }, now) => {
    if (input._id !== undefined && groups.some((group) => group._id === input._id)) {
      throw new RuleWriteError("CONFLICT", `a rule group ${input._id} already exists`, [
        { path: "_id", message: "is taken" },
      ]);
    }
    const doc: RuleGroupDocument = {
      _id: input._id ?? crypto.randomUUID(),
      label: input.label,
      max: input.max,
      created_at: now,
      updated_at: now,
    };
    return {
      next: { rules, groups: [...groups, doc] },
      focus: { list: "groups", id: doc._id },
      write: (db) => db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).insertOne(doc),
      doc,
    };
  });
}

export function updateRuleGroup(
  store: RuleStore,
  id: string,
  changes: GroupChanges,
): Promise<Written<RuleGroupDocument>> {
  return commit(store, ({ rules, groups }, now) => {
    const before = groups.find((group) => group._id === id);
    if (before === undefined) throw new RuleWriteError("NOT_FOUND", `no rule group ${id}`);
    const doc: RuleGroupDocument = {
      _id: id,
      label: changes.label ?? before.label,
      max: changes.max ?? before.max,
      created_at: before.created_at ?? now,
      updated_at: now,
    };
    return {
      next: { rules, groups: groups.map((group) => (group._id === id ? doc : group)) },
      focus: { list: "groups", id },
      write: (db) => db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).replaceOne({ _id: id }, doc),
      doc,
    };
  });
}

export function deleteRuleGroup(store: RuleStore, id: string): Promise<Written<null>> {
  return commit(store, ({ rules, groups }) => {
    if (!groups.some((group) => group._id === id)) throw new RuleWriteError("NOT_FOUND", `no rule group ${id}`);
    const naming = rules.filter((rule) => rule.group === id).map((rule) => rule._id);
    if (naming.length > 0) {
      throw new RuleWriteError(
        "CONFLICT",
        `rule group ${id} is named by ${naming.length === 1 ? "rule" : "rules"} ${naming.join(", ")}: ` +
          "move them to another group or none first",
        naming.map((rule) => ({ path: "rules", message: rule })),
      );
    }
    return {
      next: { rules, groups: groups.filter((group) => group._id !== id) },
      write: (db) => db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).deleteOne({ _id: id }),
      doc: null,
    };
  });
}

/** A rule as the rules collection stores it: `where` as JSON text, no field set to `undefined`. */
export function ruleDocument(rule: RuleV2, createdAt: Date, updatedAt: Date): RuleDocument {
  return {
    _id: rule._id,
    event_type: rule.event_type,
    points: rule.points,
    active: rule.active,
    label: rule.label,
    ...(rule.where !== undefined && { where: JSON.stringify(rule.where) }),
    ...(rule.limit !== undefined && {
      limit: { max: rule.limit.max, per: rule.limit.per, ...(rule.limit.key !== undefined && { key: rule.limit.key }) },
    }),
    ...(rule.group !== undefined && { group: rule.group }),
    created_at: createdAt,
    updated_at: updatedAt,
  };
}

/**
 * v1 made one rule per event type, and a v1 client creating a second rule of a type expects a 409 rather than two
 * rules whose points add up. So two rules of one type may not both lack `where`; rules with conditions are free.
 */
export function refuseSecondPlainRule(rules: readonly RuleDocument[], doc: RuleDocument): void {
  if (doc.where !== undefined) return;
  const other = rules.find((rule) => rule._id !== doc._id && rule.event_type === doc.event_type && !rule.where);
  if (other === undefined) return;
  throw new RuleWriteError(
    "CONFLICT",
    `a rule for ${doc.event_type} already exists (${other._id}); a second rule of a type needs a "where"`,
    [{ path: "event_type", message: "already has a rule without where" }],
  );
}

/** The half-life a stored set carries (stored and returned here, interpreted by the fold that decays). */
export function halfLifeOf(set: RuleSet): number | null {
  const value = (set as RuleSet & { half_life_seconds?: unknown }).half_life_seconds;
  return typeof value === "number" ? value : null;
}

export interface Editable {
  rules: RuleDocument[];
  groups: RuleGroupDocument[];
}

export interface Plan<T> {
  /** The collections once the write is made. */
  next: Editable;
  /** The written rule or group: the set's problems about it are named by its own fields (`group`, `where…`). */
  focus?: { list: "rules" | "groups"; id: string };
  /** The write to the collections. */
  write(db: Db): Promise<unknown>;
  doc: T;
  /** What the stored version records of how it was made (a publish of a draft or of an earlier version). */
  record?: Pick<RuleSetDocument, "source" | "restores" | "mode" | "webhooks">;
  /** The set's half-life: given by a publish; a rule or group write keeps the one in force. */
  halfLife?: number | null;
}

async function readEditable(db: Db): Promise<Editable> {
  const [rules, groups] = await Promise.all([
    db.collection<RuleDocument>(COLLECTIONS.rules).find({}).toArray(),
    db.collection<RuleGroupDocument>(COLLECTIONS.ruleGroups).find({}).toArray(),
  ]);
  return { rules, groups };
}

function setOf({ rules, groups }: Editable, version: number): RuleSet {
  return {
    version,
    rules: rules.filter((doc) => Number.isInteger(doc.points)).map(ruleOfDocument),
    groups: groups.map(groupOfDocument),
  };
}

/** The highest stored version: the pointer, or past it where a writer stored a version and stopped before moving it. */
async function latestVersion(db: Db): Promise<number> {
  const sets = db.collection<RuleSetDocument>(COLLECTIONS.ruleSets);
  let latest = await readRulesVersion(db);
  while ((await sets.findOne({ _id: latest + 1 }, { projection: { _id: 1 } })) !== null) latest += 1;
  return latest;
}

/** The set's problems as the API names them: those of the written rule or group by its own fields. */
function problemsOf(set: RuleSet, focus: Plan<unknown>["focus"]): FieldProblem[] | null {
  const parsed = RuleSetSchema.safeParse(set);
  if (parsed.success) return null;
  return parsed.error.issues.map((issue) => {
    const [list, index, ...rest] = issue.path;
    const item = typeof index === "number" ? (list === "rules" ? set.rules : set.groups)[index] : undefined;
    if (item === undefined) {
      const where = issue.path.length <= 1 ? "the rule set" : `the rule set's ${formatPath(issue.path)}`;
      return { path: "(body)", message: `${where} ${issue.message}` };
    }
    if (focus !== undefined && list === focus.list && item._id === focus.id) {
      return { path: formatPath(rest), message: issue.message };
    }
    return { path: formatPath(issue.path), message: `${item._id}: ${issue.message}` };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one write of the rule set under the write lock, storing the result as the next version (see above). */
export { commit as commitRuleWrite };

async function commit<T>(store: RuleStore, plan: (current: Editable, now: Date) => Plan<T>): Promise<Written<T>> {
  const { db } = store;
  const lock = createLock({
    redis: store.redis,
    key: rulesWriteLockKey(store.redisPrefix),
    ttlMs: WRITE_LOCK_TTL_MS,
  });
  const deadline = Date.now() + (store.lockWaitMs ?? WRITE_WAIT_MS);
  while ((await lock.acquire()) === null) {
    if (Date.now() > deadline) {
      throw new RuleWriteError("SERVICE_UNAVAILABLE", "another rule write is taking too long; try again");
    }
    await sleep(5 + Math.random() * 20);
  }
  try {
    return await lock.keepAlive(async () => {
      const now = new Date((store.now ?? Date.now)());
      const planned = plan(await readEditable(db), now);
      let set = setOf(planned.next, (await latestVersion(db)) + 1);
      const problems = problemsOf(set, planned.focus);
      if (problems !== null) throw new RuleWriteError("VALIDATION_FAILED", "invalid rule set", problems);
      const halfLife = planned.halfLife !== undefined ? planned.halfLife : halfLifeOf(await readRuleSet(db));
      const withHalfLife = (whole: RuleSet): RuleSet =>
        halfLife == null ? whole : ({ ...whole, half_life_seconds: halfLife } as RuleSet);
      await lock.check();
      try {
        await planned.write(db);
      } catch (error) {
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) {
          throw new RuleWriteError("CONFLICT", "the id is taken", [{ path: "_id", message: "is taken" }]);
        }
        throw error;
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await db.collection<RuleSetDocument>(COLLECTIONS.ruleSets).insertOne({
            _id: set.version,
            set: JSON.stringify(withHalfLife(set)),
            by: "admin",
            at: now,
            ...planned.record,
          });
          break;
        } catch (error) {
          if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY) || attempt >= 5) throw error;
          // Another writer stored this version (this one's lock expired meanwhile): the collections hold both
          // writes now, so the next version is built from them.
          set = setOf(await readEditable(db), (await latestVersion(db)) + 1);
        }
      }
      await movePointer(db, set.version, now);
      return { version: set.version, doc: planned.doc };
    });
  } finally {
    await lock.release().catch(() => false);
  }
}

/** Points `meta` at `version` unless it points at a later one already. */
export async function movePointer(db: Db, version: number, at: Date): Promise<void> {
  try {
    await db
      .collection<RulesVersionDocument>(COLLECTIONS.meta)
      .updateOne(
        { _id: RULES_VERSION, value: { $lt: version } } as Filter<RulesVersionDocument>,
        { $set: { value: version, at } },
        { upsert: true },
      );
  } catch (error) {
    // The pointer is there and at `version` or later: the upsert's insert met its `_id`.
    if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
  }
}
