// The one way scores change in the live state: a Lua script that, per lead, compares the version the worker read,
// sets the new state, moves the lead in every index and publishes its `score_update` — atomically, so readers never
// see a lead ahead of its indexes and no lease is needed between workers. One call commits a chunk of leads, kept
// small because Redis runs one script at a time.
import { STAGES, type Stage } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { type CompactEvent, type LeadHash, pushLeadHashPairs } from "./codec.ts";
import { encodeMergeRecord, type MergeRecord } from "./identity.ts";
import { indexKeys, type LiveKeys } from "./keys.ts";
import { encodeMovementEvent, MOVEMENT_CAP, MOVEMENT_WINDOW_MS, type MovementEvent } from "./movements.ts";

/**
 * What to do with one lead:
 * - `commit`: set `fields` if the lead's version is still `expected` (else: conflict); when the deep lane owns the
 *   lead, its `pending` events go to the deep lane's list instead;
 * - `pages`: hand the lead to the deep lane (its history older than the tail is needed) with `pending`;
 * - `rescan`: the same, asking the deep lane to re-read the lead's stored events (a duplicate of unknown state);
 * - `deep`: the deep lane's own commit: also drops the first `drained` deep-lane events (folded now) and releases
 *   the lead when none are left and no rescan was asked for since `rescans`;
 * - `mergedAway`: the deep lane's removal of a lead merged into `into` (its history now folded there): out of every
 *   index, its hash deleted, its first `drained` deep-lane events dropped, `lead.merged` announced and the merge's
 *   `record` written to `into`'s logs with what the lead carried (includes/merge.lua) — only if `into`'s commit
 *   earlier in the same call succeeded;
 * - `mergedAgain`: the same removal for a lead whose merge committed before, of the events that reached it after
 *   (a batch that resolved its id before the merge was recorded): the merge is not announced again (no
 *   `lead.merged`; the caller passes no messages);
 * - `emptyRoot`: the deep lane's commit of a merge's root that has neither live state nor events (two ids merged
 *   before either had one): released as `deep` releases a lead, but no state and no index entry is written, so no
 *   empty lead shows in lists; its merged leads' removals follow it as they follow a `deep` commit.
 */
export interface LeadCommit {
  leadId: string;
  mode: "commit" | "pages" | "rescan" | "deep" | "mergedAway" | "mergedAgain" | "emptyRoot";
  expected: number;
  fields: LeadHash;
  rankKey: number;
  updatedAt: number;
  stage: Stage;
  pending: CompactEvent[];
  /** `[channel, message]` pairs published when the commit succeeds. */
  messages: [string, Buffer][];
  drained?: number;
  rescans?: number;
  /** Entries (`encodeEntryTexts`, comma-separated) the script appends to the stored tail, which `fields` then leaves out. */
  appendTail?: string;
  /** Page refs (`encodePageRefs`) the script appends to the stored page list, which `fields` then leaves out. */
  appendPages?: string;
  /**
   * The event that moved the lead into `stage`: recorded as a movement (movements.ts) when the committed stage differs
   * from the stored one. Left out by commits that must record none.
   */
  movement?: MovementEvent;
  /** For `mergedAway` and `mergedAgain`: the root the lead was merged into, committed earlier in the same call. */
  into?: string;
  /** For `mergedAway` (required there): the merge as the root's merge log keeps it. */
  record?: MergeRecord;
}

export type CommitOutcome = "committed" | "conflict" | "diverted";

/** Thrown when the live state was wiped or is being rebuilt: nothing was committed. */
export class StaleLiveStateError extends Error {
  override name = "StaleLiveStateError";
}

const MODES = {
  commit: "c",
  pages: "p",
  rescan: "r",
  deep: "f",
  mergedAway: "m",
  mergedAgain: "a",
  emptyRoot: "e",
} as const;
const OUTCOMES: Record<string, CommitOutcome> = { o: "committed", c: "conflict", d: "diverted" };

// Its KEYS, ARGV and reply: `lua/commit-leads.lua`.
const COMMIT_LEADS = redisScript<string | string[]>(new URL("./lua/commit-leads.lua", import.meta.url));

/** Commits leads in one script call; returns each lead's outcome, in order. */
export async function commitLeads(
  redis: Redis,
  keys: LiveKeys,
  gen: string,
  leads: readonly LeadCommit[],
): Promise<CommitOutcome[]> {
  if (leads.length === 0) return [];
  const keyList = [keys.gen, ...indexKeys(keys)];
  const args: (string | number | Buffer)[] = [gen, ...STAGES, "#", MOVEMENT_WINDOW_MS, MOVEMENT_CAP, leads.length];
  for (const lead of leads) {
    keyList.push(keys.lead(lead.leadId), keys.deepEvents(lead.leadId));
    const record = lead.mode === "mergedAway" ? mergeRecordOf(lead) : undefined;
    if (record) keyList.push(...mergeRecordKeys(keys, record));
    args.push(
      lead.leadId,
      MODES[lead.mode],
      String(lead.expected),
      lead.rankKey,
      lead.updatedAt,
      lead.stage,
      lead.drained ?? 0,
      String(lead.rescans ?? 0),
      lead.appendTail ?? "",
      lead.appendPages ?? "",
      lead.movement ? encodeMovementEvent(lead.movement) : (lead.into ?? ""),
      0,
      lead.pending.length,
      lead.messages.length,
    );
    // The field count goes before the fields: set once they are pushed.
    const countAt = args.length - 3;
    args[countAt] = pushLeadHashPairs(lead.fields, args);
    for (const event of lead.pending) args.push(JSON.stringify(event));
    for (const [channel, message] of lead.messages) args.push(channel, message);
    if (record) args.push(encodeMergeRecord(record), record.events);
  }
  keyList.push(keys.byLastEvent, keys.aliases, keys.outbox.stream, keys.outbox.wants);
  const reply = await COMMIT_LEADS.run(redis, keyList, args);
  if (reply === "stale") throw new StaleLiveStateError("the live state was wiped or is being rebuilt");
  return (reply as string[]).map((code) => OUTCOMES[code] ?? "conflict");
}

function mergeRecordOf(lead: LeadCommit): MergeRecord {
  const { record } = lead;
  if (!record || record.from !== lead.leadId || record.into !== lead.into) {
    throw new Error(`the removal of ${lead.leadId}, merged into ${lead.into}, needs the merge's record`);
  }
  return record;
}

/** The keys a merge's record takes (includes/merge.lua `mergeRecord`), in its order. */
function mergeRecordKeys(keys: LiveKeys, { from, into }: MergeRecord): string[] {
  return [
    keys.mergedFrom(from),
    keys.mergeLog(from),
    keys.rescoreLog(from),
    keys.mergedFrom(into),
    keys.mergeLog(into),
    keys.rescoreLog(into),
    keys.searchTexts,
  ];
}
