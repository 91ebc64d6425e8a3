// The score index re-keyed after the half-life changed: every lead's key (`rankKey` without decay, `decayRankKey`
// with) and stage recomputed from its hash's score, score_reached_at and last event time, a chunk of leads per script
// call so Redis never stalls on it. Online: commits go on meanwhile, each lead moved by a compare-and-set on its version
// (lua/rekey-leads.lua); the leads a pass found moved are re-keyed again until none is.
import { STAGES, type StageThresholds } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { decodeLeadHash, type LeadHashField, leadHashFields } from "./codec.ts";
import { indexPlace } from "./decay-index.ts";
import type { LiveKeys } from "./keys.ts";

// Its KEYS, ARGV and reply: `lua/rekey-leads.lua`.
const REKEY_LEADS = redisScript<number>(new URL("./lua/rekey-leads.lua", import.meta.url));

/**
 * Passes at most: a lead committed under a pass is re-keyed by the next, since a worker may have planned it with the
 * old half-life; one committed in every pass was planned anew each time (the version moved), so with the new one.
 */
const MAX_PASSES = 3;

const REKEY_FIELDS: readonly LeadHashField[] = ["version", "score", "reachedAt", "lastEventAt"];

export interface RekeyOptions {
  redis: Redis;
  keys: LiveKeys;
  cap: number;
  thresholds: StageThresholds;
  /** The half-life now in force (seconds), or null without decay. */
  halfLifeSeconds: number | null;
  /** The instant the stages are taken at (epoch ms). */
  now?: () => number;
  /** Leads per script call. */
  chunk?: number;
}

export interface RekeyResult {
  /** Leads re-keyed (a lead moved again by a later pass counts once per pass). */
  leads: number;
  passes: number;
}

/** Re-keys every lead of the score index for `halfLifeSeconds`. */
export async function rekeyScoreIndex(options: RekeyOptions): Promise<RekeyResult> {
  const { redis, keys, cap, thresholds, halfLifeSeconds } = options;
  const now = options.now ?? Date.now;
  const chunk = options.chunk ?? 500;
  const indexes = [
    keys.byScore,
    keys.byUpdated,
    keys.byLastEvent,
    ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
    ...STAGES.map((stage) => keys.byLastEventIn(stage)),
  ];
  let ids = (await redis.zrange(keys.byScore, 0, "-1")) as string[];
  let leads = 0;
  let passes = 0;
  while (ids.length > 0 && passes < MAX_PASSES) {
    passes += 1;
    const moved: string[] = [];
    for (let from = 0; from < ids.length; from += chunk) {
      const slice = ids.slice(from, from + chunk);
      const pipeline = redis.pipeline();
      for (const id of slice) pipeline.hmget(keys.lead(id), ...leadHashFields(REKEY_FIELDS));
      const replies = (await pipeline.exec()) ?? [];
      const t = now();
      const args: (string | number)[] = [STAGES.length, ...STAGES];
      const leadKeys: string[] = [];
      replies.forEach(([error, values], index) => {
        if (error) throw error;
        const hash = decodeLeadHash(REKEY_FIELDS, values as (string | null)[]);
        if (!hash.version) return;
        const id = slice[index] as string;
        const state = {
          score: Number(hash.score || 0),
          reachedAt: hash.reachedAt ? Number(hash.reachedAt) : null,
          lastEventAt: hash.lastEventAt ? Number(hash.lastEventAt) : null,
        };
        const place = indexPlace(state, t, cap, thresholds, halfLifeSeconds);
        args.push(id, hash.version, place.rankKey, place.stage);
        leadKeys.push(keys.lead(id));
      });
      if (leadKeys.length === 0) continue;
      const done = await REKEY_LEADS.run(redis, [...indexes, ...leadKeys], args);
      leads += done;
      if (done < leadKeys.length) moved.push(...slice);
    }
    // A chunk where some lead moved under the pass is read again: its commit may have keyed it with the old half-life.
    ids = moved;
  }
  return { leads, passes };
}
