// Idle leads. A lead no commit has touched for LIVE_IDLE_DAYS keeps in Redis only what lists, counts and rank read:
// its summary fields (score, stage, times, version, profile) and its entries in the score index and its stage's
// activity indexes; it leaves the global activity indexes (`updated_at`, `last_event_at`), which the stage ones give
// merged (reader.ts): three sorted-set entries instead of five. The rest of its hash — tail, base, tally, breakdown,
// page list, newest entry — is archived to MongoDB (`live_idle`, insert-only: one document per shrink, `_id` =
// `<lead id>|<mark>`) and the hash keeps the mark (`<version>|<random>`) in its `idle` field. The shrink rewrites what
// is left of the hash, so Redis stores it compact again (a listpack) instead of the table the tail had grown it into.
//
// - A read that needs those fields (lead detail, history, chart, breakdown, subscribe snapshot) takes them from the
//   document: one `_id` read, the one query FerretDB pushes down. The lead stays idle.
// - Anything that folds the lead (the scorer, the deep lane) restores the fields first (`restoreIdleLeads`), so every
//   commit works on the whole state, and its global activity entries back; the restore leaves the document behind (a
//   delete scans on the embedded store). A stage move without a fold (decay, a rekey) takes the idle lead's times
//   from the stage it leaves (includes/stage-indexes.lua).
// - A shrink bumps the version, so a commit planned on the whole state before it fails its compare-and-set and plans
//   again from the idle lead, restoring it first.
import { STAGES } from "@leadscore/contracts";
import { createLookupGate, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Collection, Db } from "mongodb";
import { LEAD_FIELDS, type LeadHashField, leadHashField, leadHashFields, SUMMARY_FIELDS } from "./codec.ts";
import { activityKeys, type LiveKeys } from "./keys.ts";

/** What an idle lead sheds: every field but those lists, counts and rank read (SUMMARY_FIELDS). */
export const IDLE_FIELDS: readonly LeadHashField[] = [...LEAD_FIELDS.slice(SUMMARY_FIELDS.length), "newest"];
const IDLE_NAMES = leadHashFields(IDLE_FIELDS);
const idleNames = new Set(IDLE_NAMES);

/** The stored name of the field that marks an idle lead (and names its archive document). */
export const IDLE_MARK = leadHashField("idle");

export const IDLE_COLLECTION = "live_idle";

/** What an idle lead shed, as it was stored in its hash (stored field names). */
export interface IdleDocument {
  _id: string;
  lead_id: string;
  /** What the lead's `idle` field holds while this document has its fields. */
  mark: string;
  /** The lead's version when it was archived. */
  version: number;
  fields: Record<string, string>;
  at: Date;
}

/** Reads the fields an idle lead shed, by its id and its mark (null when the document is missing). */
export type IdleArchive = (leadId: string, mark: string) => Promise<Record<string, string> | null>;

/** The archive document of a lead's shed: its `_id`. */
const documentId = (leadId: string, mark: string) => `${leadId}|${mark}`;

export function idleArchiveOf(db: Db): IdleArchive {
  const documents = db.collection<IdleDocument>(IDLE_COLLECTION);
  return async (leadId, mark) => (await documents.findOne({ _id: documentId(leadId, mark) }))?.fields ?? null;
}

/** Whether a read of `fields` reads some an idle lead sheds (and so must read the mark too). */
export function readsIdleFields(fields: readonly LeadHashField[]): boolean {
  return leadHashFields(fields).some((name) => idleNames.has(name));
}

/**
 * The values of an HMGET of `fields` followed by IDLE_MARK, with what an idle lead shed filled in from its archive;
 * a lead that is not idle (or a reader without an archive) reads as stored.
 */
export async function withIdleFields(
  leadId: string,
  fields: readonly LeadHashField[],
  values: readonly (string | null)[],
  archive: IdleArchive | undefined,
): Promise<(string | null)[]> {
  const own = values.slice(0, fields.length);
  const mark = values[fields.length];
  if (!mark || !archive) return own;
  const archived = await archive(leadId, mark);
  if (!archived) return own;
  const names = leadHashFields(fields);
  return own.map((value, index) => value ?? archived[names[index] as string] ?? null);
}

// Their KEYS, ARGV and replies: `lua/shrink-idle.lua`, `lua/restore-idle.lua`.
const SHRINK_IDLE = redisScript<number>(new URL("./lua/shrink-idle.lua", import.meta.url));
const RESTORE_IDLE = redisScript<number>(new URL("./lua/restore-idle.lua", import.meta.url));

/** The keys and stage names the scripts find a lead's activity indexes by (`includes/stage-indexes.lua`). */
const STAGE_ARGS = [STAGES.length, ...STAGES];

/** What the idle scripts take of the live keys: a lead's hash and every activity index. */
export type IdleKeys = Pick<LiveKeys, "lead" | "byUpdated" | "byLastEvent" | "byUpdatedIn" | "byLastEventIn">;

/**
 * Gives idle leads (id → their mark) back what they shed: each lead's archive read (one `_id` equality) and its
 * restore, BY_ID_IN_FLIGHT leads at once — a batch can hold thousands of idle leads, and each archive holds a lead's
 * tail. Throws when a document is missing: folding the lead without its history would lose it, so the batch is
 * retried instead.
 */
export async function restoreIdleLeads(
  redis: Redis,
  archive: IdleArchive,
  keys: IdleKeys,
  marked: ReadonlyMap<string, string>,
): Promise<void> {
  const gate = createLookupGate();
  await Promise.all(
    [...marked].map(([leadId, mark]) =>
      gate(async () => {
        const fields = await archive(leadId, mark);
        if (!fields) throw new Error(`idle lead ${leadId}: its archive ${documentId(leadId, mark)} is missing`);
        await RESTORE_IDLE.run(
          redis,
          [keys.lead(leadId), ...activityKeys(keys)],
          [leadId, mark, ...STAGE_ARGS, ...Object.entries(fields).flat()],
        );
      }),
    ),
  );
}

export interface ShrinkOptions {
  redis: Redis;
  db: Db;
  keys: IdleKeys & Pick<LiveKeys, "deep" | "idleThrough">;
  /** A lead no commit has touched for this long is idle. */
  idleMs: number;
  now?: () => number;
  /** Leads looked at per round trip. */
  chunk?: number;
  /** Stops after this long (the rest waits for the next turn); unset: until every idle lead is done. */
  budgetMs?: number;
}

/**
 * Shrinks the leads that became idle since the last turn (the `updated_at` index from `idleThrough` on): archives
 * what each sheds, then sheds it in one script call that checks the version read. Returns how many were shrunk.
 */
export async function shrinkIdleLeads(options: ShrinkOptions): Promise<number> {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const chunk = options.chunk ?? 500;
  const stopAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.budgetMs;
  const documents = options.db.collection<IdleDocument>(IDLE_COLLECTION);
  const upTo = now() - options.idleMs;
  const through = await redis.get(keys.idleThrough);
  let from = through === null ? "-inf" : `(${through}`;
  let shrunk = 0;
  while (performance.now() < stopAt) {
    const raw = await redis.zrangebyscore(keys.byUpdated, from, upTo, "WITHSCORES", "LIMIT", 0, chunk);
    if (raw.length === 0) break;
    const last = raw.at(-1) as string;
    const ids = new Set<string>();
    for (let i = 0; i < raw.length; i += 2) ids.add(raw[i] as string);
    // The next turn starts after `last`: every lead tied on it is taken now.
    if (raw.length === 2 * chunk) for (const id of await redis.zrangebyscore(keys.byUpdated, last, last)) ids.add(id);
    shrunk += await shrinkLeads(redis, documents, keys, [...ids]);
    await redis.set(keys.idleThrough, last);
    from = `(${last}`;
    if (raw.length < 2 * chunk) break;
  }
  return shrunk;
}

async function shrinkLeads(
  redis: Redis,
  documents: Collection<IdleDocument>,
  keys: ShrinkOptions["keys"],
  ids: string[],
): Promise<number> {
  const version = leadHashField("version");
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.lead(id), version, IDLE_MARK, ...IDLE_NAMES);
  const replies = (await pipeline.exec()) ?? [];
  const at = new Date();
  const archived: IdleDocument[] = [];
  replies.forEach(([error, reply], index) => {
    if (error) throw error;
    const [v, idle, ...values] = reply as (string | null)[];
    if (v === null || v === undefined || idle) return;
    const fields: Record<string, string> = {};
    values.forEach((value, i) => {
      if (value !== null) fields[IDLE_NAMES[i] as string] = value;
    });
    if (Object.keys(fields).length === 0) return;
    const leadId = ids[index] as string;
    const mark = `${v}|${crypto.randomUUID().slice(0, 8)}`;
    archived.push({ _id: documentId(leadId, mark), lead_id: leadId, mark, version: Number(v), fields, at });
  });
  if (archived.length === 0) return 0;
  // Stored before any lead sheds a field: a crash between the two leaves a document nothing names, never a lead
  // without its history.
  await documents.insertMany(archived, { ordered: false });
  const shed = await Promise.all(
    archived.map((document) =>
      SHRINK_IDLE.run(
        redis,
        [keys.lead(document.lead_id), keys.deep, ...activityKeys(keys)],
        [document.lead_id, document.version, document.mark, ...STAGE_ARGS, ...IDLE_NAMES],
      ),
    ),
  );
  return shed.reduce((sum: number, one) => sum + Number(one), 0);
}

/** Restores those of `ids` that are idle (one pipelined read of their marks first); for paths off the hot one. */
export async function restoreIfIdle(
  redis: Redis,
  archive: IdleArchive,
  keys: IdleKeys,
  ids: readonly string[],
): Promise<void> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(keys.lead(id), IDLE_MARK);
  const marked = new Map<string, string>();
  ((await pipeline.exec()) ?? []).forEach(([error, mark], index) => {
    if (error) throw error;
    if (typeof mark === "string" && mark !== "") marked.set(ids[index] as string, mark);
  });
  if (marked.size > 0) await restoreIdleLeads(redis, archive, keys, marked);
}
