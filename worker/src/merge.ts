// Merges of ids (an identify, an admin merge): recording them, and the deep lane's step that folds a merged lead's
// history into its root.
//
// A merge request travels the events queue. The worker records it in MongoDB's `identities` first (`_id` = the
// merged id: a replay conflicts, and the first record wins), then in the live identity map with one script, which
// also hands both leads to the deep lane. From then on every batch resolves its lead ids through the map before
// storing its events, and a commit of the merged id (a batch that resolved it just before) goes to its deep-lane
// list. The deep lane folds, in one pass, the merged lead's events (its pages by id, its tail, its list: no query by
// `lead_id`) into the root's history as late events — from the first page they land in, the pages they leave alone
// kept — and commits the root and the merged lead's removal from every index in one script call — the removal only
// if the root's commit succeeded, and with it the merge's announcement and its record in the root's logs.
import {
  COLLECTIONS,
  type IdentityDocument,
  type MergePairDocument,
  type MergeRequest,
  mergePairId,
  type ScorableEvent,
} from "@leadscore/contracts";
import { type LiveKeys, recordMerge, resolveLead, resolveLeads, StaleLiveStateError } from "@leadscore/live";
import type { Logger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { insertNew } from "./store.ts";

export interface MergeRecorderOptions {
  db: Db;
  redis: Redis;
  keys: LiveKeys;
  generation(): string;
  log: Logger;
  /** Whether a lead lies in this lead partition (absent: one partition, every lead does). */
  owns?: (leadId: string) => boolean;
}

/** How many times a merge is recorded again when its target was merged meanwhile. */
const MOVED_TRIES = 8;

/** Records merge requests, durably then live. Throws StaleLiveStateError while the live state is being rebuilt. */
export function createMergeRecorder(options: MergeRecorderOptions) {
  const { db, redis, keys, log } = options;
  const identities = db.collection<IdentityDocument>(COLLECTIONS.identities);
  const pairs = db.collection<MergePairDocument>(COLLECTIONS.mergePairs);

  /**
   * Of two opposite merges of the same two leads in two partitions (`a` into `b` recorded in a's, `b` into `a` in
   * b's, at the same moment), neither partition's identity map sees the other's, and each import would find a loop.
   * So a merge into another partition's lead first claims the pair in MongoDB (inserted once, by `_id`): true when it
   * holds the claim (or held it before: a replay), false when the opposite merge does, which then makes this one a
   * no-op — the two leads end as that merge's root. Within one partition the map's script orders the two already.
   */
  async function claimPair(from: string, into: string, at: number): Promise<boolean> {
    const _id = mergePairId(from, into);
    const existing = await insertNew(pairs, [{ _id, from, into, at: new Date(at) }]);
    if (existing.size === 0) return true;
    return (await pairs.findOne({ _id }))?.from === from;
  }

  async function record(request: MergeRequest): Promise<void> {
    const { from } = request;
    let into = await resolveLead(redis, keys, request.into);
    if (into === from) {
      log.warn("merge refused: the lead already resolves to the merged id", { from, into: request.into });
      return;
    }
    if (!(options.owns?.(into) ?? true) && !(await claimPair(from, into, request.at))) {
      log.warn("merge refused: the opposite merge of the same two leads was recorded first", { from, into });
      return;
    }
    const existing = await insertNew(identities, [
      { _id: from, into, kind: request.kind, reason: request.reason ?? null, at: new Date(request.at) },
    ]);
    if (existing.size > 0) {
      // Recorded before (a replay, or a rival request): the stored record wins.
      const stored = await identities.findOne({ _id: from });
      if (stored) into = await resolveLead(redis, keys, stored.into);
    }
    for (let tries = 0; tries < MOVED_TRIES; tries += 1) {
      const here = options.owns?.(into) ?? true;
      const recorded = await recordMerge(redis, keys, options.generation(), from, into, here);
      switch (recorded.outcome) {
        case "ok":
        case "same":
          return;
        case "stale":
          throw new StaleLiveStateError("the live state was wiped or is being rebuilt");
        case "moved":
          into = recorded.root;
          continue;
        case "taken":
          log.warn("merge ignored: the id was merged into another lead", { from, into, root: recorded.root });
          return;
        case "loop":
          log.warn("merge refused: it would close a loop", { from, into });
          return;
      }
    }
    throw new Error(`merge of ${from}: its target kept moving`);
  }

  return {
    async apply(requests: readonly MergeRequest[]): Promise<void> {
      for (const request of requests) await record(request);
    },
  };
}

/** The owned leads that resolve to another lead, by that root. */
export async function mergeGroups(
  redis: Redis,
  keys: LiveKeys,
  ids: readonly string[],
): Promise<Map<string, string[]>> {
  const groups = new Map<string, string[]>();
  for (const [id, root] of await resolveLeads(redis, keys, ids)) {
    const group = groups.get(root) ?? [];
    group.push(id);
    groups.set(root, group);
  }
  return groups;
}

/**
 * The merged ids among `merges` (by root) whose merge into that root committed before: the root's merge log names
 * them. The commit script writes a merge's record there in the same call that removes the merged lead and announces
 * the merge (`mergedAway`; includes/merge.lua), and carries the merged lead's own records along a chain, so whatever
 * point a process stops at, a committed merge is in the log. A later fold of such an id's events (a batch resolved it
 * before the merge was recorded and committed after the merge's fold) is not the merge again: it commits as
 * `mergedAgain`, announcing and recording nothing. So each merge is announced once.
 */
export async function mergedBefore(
  redis: Redis,
  keys: LiveKeys,
  merges: ReadonlyMap<string, readonly string[]>,
): Promise<Set<string>> {
  const pairs = [...merges].flatMap(([root, away]) => away.map((id) => [root, id] as const));
  const pipeline = redis.pipeline();
  for (const [root, id] of pairs) pipeline.hexists(keys.mergeLog(root), id);
  const replies = pairs.length > 0 ? ((await pipeline.exec()) ?? []) : [];
  const before = new Set<string>();
  replies.forEach(([error, exists], index) => {
    if (error) throw error;
    if (exists === 1) before.add((pairs[index] as readonly [string, string])[1]);
  });
  return before;
}

/** Every id ever merged into each root (a rescan reads their stored events too). */
export async function aliasesOf(redis: Redis, keys: LiveKeys, roots: readonly string[]): Promise<Map<string, string>> {
  const pipeline = redis.pipeline();
  for (const root of roots) pipeline.smembers(keys.aliasesOf(root));
  const replies = (await pipeline.exec()) ?? [];
  const rootOf = new Map<string, string>();
  replies.forEach(([error, members], index) => {
    if (error) throw error;
    for (const id of members as string[]) rootOf.set(id, roots[index] as string);
  });
  return rootOf;
}

/** A merged lead's events as its root's: the fold and the history entries name the root. */
export function asRootEvents(root: string, events: readonly ScorableEvent[]): ScorableEvent[] {
  return events.map((event) => (event.lead_id === root ? event : { ...event, lead_id: root }));
}
