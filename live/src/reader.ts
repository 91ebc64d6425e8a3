// Reads of the live state for the API, the realtime tier and the worker. Each costs a few Redis commands whose work
// is logarithmic in the number of leads (sorted-set ranges, ranks and counts) plus the page of leads returned —
// never a MongoDB query.
import {
  decayKey,
  type LeaderboardEntry,
  type ScoreUpdate,
  STAGES,
  type Stage,
  type StageThresholds,
  scoreAt,
  stageAt,
} from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import {
  type CompactEntry,
  decodeEntry,
  decodeLead,
  decodeLeadHash,
  LEAD_FIELDS,
  type LeadHashField,
  type LiveLead,
  leadHashField,
  leadHashFields,
  rankRange,
  SUMMARY_FIELDS,
  stageRange,
} from "./codec.ts";
import { decayHistogramRanges, decayStageRange, filterRankRange } from "./decay-index.ts";
import { type BreakdownTally, decodeBreakdown } from "./fold.ts";
import { IDLE_MARK, type IdleArchive, readsIdleFields, withIdleFields } from "./idle.ts";
import { type LiveKeys, liveKeys } from "./keys.ts";
import { mergePositions } from "./positions.ts";

/** Every order a list can be read in; a leading `-` is descending. */
export const LEAD_SORTS = ["-score", "score", "-updated_at", "updated_at", "-last_event_at", "last_event_at"] as const;
export type LeadSort = (typeof LEAD_SORTS)[number];

/** Where a page ended: the last lead and its value in the index the page was read from. */
export interface ListPosition {
  id: string;
  value: number;
}

export interface ListQuery {
  minScore?: number;
  maxScore?: number;
  stage?: Stage;
  sort: LeadSort;
  limit: number;
  after?: ListPosition | null;
  /** The instant (epoch ms) the filters, the count and the leads' scores are taken at; default: now. */
  at?: number;
}

export interface ListPage {
  leads: LiveLead[];
  total: number;
  /** Position to continue from, when there is a next page. */
  next: ListPosition | null;
}

/** A lead's score by rule and group, from its live state. */
export interface LeadBreakdown extends BreakdownTally {
  score: number;
  rulesVersion: number | null;
}

const BREAKDOWN_FIELDS: readonly LeadHashField[] = ["version", "score", "newest", "breakdown"];

export interface LiveReaderOptions {
  redis: Redis;
  redisPrefix: string;
  cap: number;
  thresholds: StageThresholds;
  /**
   * The half-life in force (seconds), or null without decay: with one, the score index holds `decayRankKey`s, every
   * score range is read at the request's instant and leads are returned with their score and stage at that instant.
   */
  halfLife?: () => number | null;
  /** The instant reads are answered at (epoch ms). */
  now?: () => number;
  /** Where an idle lead's shed fields are read from (idle.ts); without it an idle lead reads without its history. */
  idleArchive?: IdleArchive;
}

/** What a subscribe snapshot reads of a lead. */
const SNAPSHOT_FIELDS: readonly LeadHashField[] = ["score", "stage", "newest", "lastEventAt"];

/** Leads read per round trip while a filtered list walks the `updated_at` or `last_event_at` index. */
const SCAN_CHUNK = 200;

/** A sorted-set bound as Redis spells it. */
const bound = (value: number) => (value === Infinity ? "+inf" : value === -Infinity ? "-inf" : String(value));

// Its KEYS, ARGV and reply: `lua/page-after-1.lua`.
const PAGE_AFTER = redisScript<string[]>(new URL("./lua/page-after-1.lua", import.meta.url));

export function createLiveReader(options: LiveReaderOptions) {
  const { redis, cap, thresholds } = options;
  const keys: LiveKeys = liveKeys(options.redisPrefix);
  const halfLife = options.halfLife ?? (() => null);
  const now = options.now ?? Date.now;

  /** A score and its stage at `t`, from the score the last event set at `at` (decay runs from that event's time). */
  function decayedAt(score: number, at: number | null, t: number, halfLifeSeconds: number) {
    const stage = stageAt(decayKey(score, at ?? t, halfLifeSeconds), t, halfLifeSeconds, thresholds);
    return { score: scoreAt(score, at, t, halfLifeSeconds), stage };
  }

  /** A lead's score and stage at `t`. */
  function decayed(lead: LiveLead, t: number, halfLifeSeconds: number): LiveLead {
    const { score, stage } = decayedAt(lead.score, lead.lastEventAt, t, halfLifeSeconds);
    lead.score = score;
    lead.stage = stage;
    return lead;
  }

  /** Leads' summaries (or `fields`), with decay their scores and stages at `t` (default: now). */
  async function summaries(
    ids: string[],
    fields: readonly LeadHashField[] = SUMMARY_FIELDS,
    t?: number,
  ): Promise<LiveLead[]> {
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    const idle = readsIdleFields(fields);
    for (const id of ids) pipeline.hmget(keys.lead(id), ...leadHashFields(fields), ...(idle ? [IDLE_MARK] : []));
    const replies = (await pipeline.exec()) ?? [];
    const values = replies.map(([error, read]) => {
      if (error) throw error;
      return read as (string | null)[];
    });
    // Only a read of what idle leads shed waits on their archive (lists read summaries and never do).
    const rows = idle
      ? await Promise.all(
          values.map((read, index) => withIdleFields(ids[index] as string, fields, read, options.idleArchive)),
        )
      : values;
    const leads: LiveLead[] = [];
    rows.forEach((row, index) => {
      const hash = decodeLeadHash(fields, row);
      const lead = decodeLead(ids[index] as string, hash, cap, thresholds);
      if (lead) leads.push(lead);
    });
    const halfLifeSeconds = halfLife();
    if (halfLifeSeconds === null) return leads;
    const at = t ?? now();
    return leads.map((lead) => decayed(lead, at, halfLifeSeconds));
  }

  const filtered = (query: ListQuery) =>
    query.minScore !== undefined || query.maxScore !== undefined || query.stage !== undefined;

  /** Ids and values of one page from a sorted set, ascending or descending, strictly after a position. */
  async function pageOf(
    key: string,
    lo: number,
    hi: number,
    descending: boolean,
    after: ListPosition | null | undefined,
    count: number,
  ): Promise<[string, number][]> {
    let raw: string[];
    if (after) {
      raw = await PAGE_AFTER.run(redis, [key], [String(after.value), after.id, descending ? 1 : 0, count]);
    } else if (descending) {
      raw = await redis.zrevrangebyscore(key, bound(hi), bound(lo), "WITHSCORES", "LIMIT", 0, count);
    } else {
      raw = await redis.zrangebyscore(key, bound(lo), bound(hi), "WITHSCORES", "LIMIT", 0, count);
    }
    const out: [string, number][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const value = Number(raw[i + 1]);
      if (value < lo || value > hi) break;
      out.push([raw[i] as string, value]);
    }
    return out;
  }

  /**
   * One page of every lead in an activity order: the stage indexes' pages after the same position, merged. The
   * stage indexes hold every lead, each under one stage; the global activity indexes leave idle leads out (idle.ts).
   */
  async function inStages(
    stages: readonly Stage[],
    perStage: (stage: Stage) => string,
    descending: boolean,
    after: ListPosition | null | undefined,
    count: number,
  ): Promise<[string, number][]> {
    const pages = await Promise.all(
      stages.map((stage) => pageOf(perStage(stage), -Infinity, Infinity, descending, after, count)),
    );
    return mergePositions(pages, count, descending);
  }

  /**
   * The stages a list's filters can select leads from: without decay a stage is a score range, which a lead's stage
   * index follows; with decay a lead may have decayed out of the stage it is filed under, so every stage.
   */
  function stagesFor(query: ListQuery, halfLifeSeconds: number | null): readonly Stage[] {
    if (halfLifeSeconds !== null) return STAGES;
    return STAGES.filter((stage) => {
      if (query.stage !== undefined && stage !== query.stage) return false;
      const [lo, hi] = stageRange(stage, thresholds, cap);
      return lo <= (query.maxScore ?? Infinity) && hi >= (query.minScore ?? -Infinity);
    });
  }

  const reader = {
    keys,

    /** The keys `leadId`'s live state sits under (its lead partition's: see partitioned-reader.ts). */
    keysFor: (_leadId: string): LiveKeys => keys,

    /** A lead's summary (no history), or null when it has no live state. */
    async lead(leadId: string): Promise<LiveLead | null> {
      return (await summaries([leadId]))[0] ?? null;
    },

    /** Summaries of several leads, in the order given, at instant `at` (default: now); unknown ids are left out. */
    leads: (ids: string[], at?: number) => summaries(ids, SUMMARY_FIELDS, at),

    /** A lead's whole live state, its tail of history included. */
    async leadWithTail(leadId: string): Promise<LiveLead | null> {
      return (await summaries([leadId], LEAD_FIELDS))[0] ?? null;
    },

    /** 1-based position in the leaderboard, and the number of leads ranked. */
    async rank(leadId: string): Promise<{ rank: number | null; of: number }> {
      const [rank, of] = await Promise.all([redis.zrank(keys.byScore, leadId), redis.zcard(keys.byScore)]);
      return { rank: rank === null ? null : rank + 1, of };
    },

    async leaderboard(limit: number, at?: number): Promise<LiveLead[]> {
      return summaries((await redis.zrange(keys.byScore, 0, String(limit - 1))) as string[], SUMMARY_FIELDS, at);
    },

    /** The top leads as sockets receive them. */
    async leaderboardEntries(limit: number): Promise<LeaderboardEntry[]> {
      const top = await summaries((await redis.zrange(keys.byScore, 0, String(limit - 1))) as string[]);
      return top.map((lead) => ({
        _id: lead.id,
        name: lead.name,
        company: lead.company,
        current_score: lead.score,
        stage: lead.stage,
      }));
    },

    /**
     * Events folded over every lead (optionally only the leads `include` keeps): the sum of their counts. It reads
     * every lead's count, so it is for checks and benchmarks, not for a hot path.
     */
    async foldedEvents(include: (leadId: string) => boolean = () => true): Promise<number> {
      const ids = ((await redis.zrange(keys.byScore, 0, "-1")) as string[]).filter(include);
      let sum = 0;
      for (let from = 0; from < ids.length; from += 2000) {
        const pipeline = redis.pipeline();
        for (const id of ids.slice(from, from + 2000)) pipeline.hget(keys.lead(id), leadHashField("count"));
        for (const [, n] of (await pipeline.exec()) ?? []) sum += Number(n ?? 0);
      }
      return sum;
    },

    async count(): Promise<number> {
      return redis.zcard(keys.byScore);
    },

    /** Leads per stage at instant `t` (default: now), from the score index. */
    async countByStage(t = now()): Promise<Record<Stage, number>> {
      const halfLifeSeconds = halfLife();
      const counts = await Promise.all(
        STAGES.map((stage) => {
          const [lo, hi] =
            halfLifeSeconds === null
              ? rankRange(...stageRange(stage, thresholds, cap), cap)
              : decayStageRange(stage, thresholds, t, halfLifeSeconds, cap);
          return redis.zcount(keys.byScore, bound(lo), bound(hi));
        }),
      );
      return Object.fromEntries(STAGES.map((stage, index) => [stage, counts[index] ?? 0])) as Record<Stage, number>;
    },

    /** Leads per score bucket of `width` points (the last bucket ends at the cap): one ZCOUNT each, pipelined. */
    async histogram(width: number, t = now()): Promise<{ min: number; max: number; count: number }[]> {
      const halfLifeSeconds = halfLife();
      const buckets: { min: number; max: number; range: [number, number] }[] = [];
      if (halfLifeSeconds !== null) buckets.push(...decayHistogramRanges(width, t, halfLifeSeconds, cap));
      else {
        for (let min = 0; min <= cap; min += width) {
          const max = Math.min(min + width - 1, cap);
          buckets.push({ min, max, range: rankRange(min, max, cap) });
        }
      }
      const pipeline = redis.pipeline();
      for (const { range } of buckets) pipeline.zcount(keys.byScore, bound(range[0]), bound(range[1]));
      const replies = (await pipeline.exec()) ?? [];
      return buckets.map((bucket, index) => {
        const [error, count] = replies[index] ?? [null, 0];
        if (error) throw error;
        return { min: bucket.min, max: bucket.max, count: Number(count) };
      });
    },

    /**
     * One page of leads. Score filters and stages are ranges of the score index, so sorting by score and every
     * count is a range read. Sorting by `updated_at` reads the stage's `updated_at` index when only a stage is asked
     * for, else every stage's, merged (the global one leaves idle leads out: idle.ts); with a `min_score`/`max_score`
     * it walks them (without decay, only the stages the range reaches) and keeps the leads in range, which costs the
     * leads passed over. Sorting by `last_event_at` reads its own stage indexes the same way.
     */
    async list(query: ListQuery): Promise<ListPage> {
      // One instant for the whole read: the range, its count and the leads' scores and stages agree.
      const t = query.at ?? now();
      const { picked, total } = await reader.listPositions({ ...query, at: t });
      const more = picked.length > query.limit;
      const page = more ? picked.slice(0, query.limit) : picked;
      const leads = await summaries(
        page.map(([id]) => id),
        SUMMARY_FIELDS,
        t,
      );
      const last = page.at(-1);
      return { leads, total, next: more && last ? { id: last[0], value: last[1] } : null };
    },

    /**
     * The ids and index values of a list page and one more (`limit + 1`, in the list's order), and the count of
     * leads the filters select: what `list` reads before the leads' summaries, and what a read over lead partitions
     * merges (partitioned-reader.ts).
     */
    async listPositions(query: ListQuery): Promise<{ picked: [string, number][]; total: number }> {
      const halfLifeSeconds = halfLife();
      const range = filterRankRange(query, query.at ?? now(), halfLifeSeconds, cap, thresholds);
      if (range === null) return { picked: [], total: 0 };
      const [lo, hi] = range;
      // The count goes out with the page's reads rather than before them: one round trip less.
      const counting = filtered(query) ? redis.zcount(keys.byScore, bound(lo), bound(hi)) : redis.zcard(keys.byScore);
      counting.catch(() => undefined);
      const want = query.limit + 1;
      let picked: [string, number][];
      if (query.sort === "-score" || query.sort === "score") {
        // Ascending rank keys are descending scores.
        picked = await pageOf(keys.byScore, lo, hi, query.sort === "score", query.after, want);
      } else {
        const descending = query.sort === "-updated_at" || query.sort === "-last_event_at";
        const byActivity = query.sort === "-last_event_at" || query.sort === "last_event_at";
        const perStage = byActivity ? keys.byLastEventIn : keys.byUpdatedIn;
        const stages = stagesFor(query, halfLifeSeconds);
        const inTheirStages = (after: ListPosition | null | undefined, count: number) =>
          inStages(stages, perStage, descending, after, count);
        // With decay a lead changes stage without a commit, so the per-stage activity indexes are not read: the
        // stage is a moving score range, checked as a min_score is.
        const onlyStage =
          halfLifeSeconds === null &&
          query.stage !== undefined &&
          query.minScore === undefined &&
          query.maxScore === undefined;
        if (onlyStage && query.stage) {
          picked = await pageOf(perStage(query.stage), -Infinity, Infinity, descending, query.after, want);
        } else if (!filtered(query)) {
          picked = await inTheirStages(query.after, want);
        } else {
          picked = [];
          let after = query.after;
          while (picked.length < want) {
            const chunk = await inTheirStages(after, SCAN_CHUNK);
            if (chunk.length === 0) break;
            const scores = await redis.zmscore(
              keys.byScore,
              chunk.map(([id]) => id),
            );
            chunk.forEach((item, index) => {
              const value = scores[index];
              if (value !== null && value !== undefined && Number(value) >= lo && Number(value) <= hi)
                picked.push(item);
            });
            const last = chunk.at(-1) as [string, number];
            after = { id: last[0], value: last[1] };
            if (chunk.length < SCAN_CHUNK) break;
          }
          picked = picked.slice(0, want);
        }
      }
      return { picked, total: await counting };
    },

    /**
     * A lead's score by rule and group (one hash read): null for an unknown lead; `rules_version` is the rule-set
     * version its newest entry was scored with (null for v1 rules, or before its first event).
     */
    async breakdown(leadId: string): Promise<LeadBreakdown | null> {
      const read = await withIdleFields(
        leadId,
        BREAKDOWN_FIELDS,
        await redis.hmget(keys.lead(leadId), ...leadHashFields(BREAKDOWN_FIELDS), IDLE_MARK),
        options.idleArchive,
      );
      const { version, score, newest, breakdown } = decodeLeadHash(BREAKDOWN_FIELDS, read);
      if (!version) return null;
      const entry = newest ? decodeEntry(leadId, JSON.parse(newest) as CompactEntry, cap) : null;
      return { score: Number(score || 0), rulesVersion: entry?.rules_version ?? null, ...decodeBreakdown(breakdown) };
    },

    /**
     * What a subscribe shows: the lead's score as of its newest scored event — with decay, decayed to now, in the stage
     * it has decayed to —, or null before its first.
     */
    async snapshot(leadId: string): Promise<ScoreUpdate | null> {
      const read = await withIdleFields(
        leadId,
        SNAPSHOT_FIELDS,
        await redis.hmget(keys.lead(leadId), ...leadHashFields(SNAPSHOT_FIELDS), IDLE_MARK),
        options.idleArchive,
      );
      const { score, stage, newest, lastEventAt } = decodeLeadHash(SNAPSHOT_FIELDS, read);
      if (!newest || typeof score !== "string" || typeof stage !== "string") return null;
      const entry = decodeEntry(leadId, JSON.parse(newest) as CompactEntry, cap);
      const halfLifeSeconds = halfLife();
      const current =
        halfLifeSeconds === null
          ? { score: Number(score), stage: stage as Stage }
          : decayedAt(Number(score), lastEventAt ? Number(lastEventAt) : null, now(), halfLifeSeconds);
      return {
        lead_id: leadId,
        current_score: current.score,
        delta: entry.delta,
        stage: current.stage,
        event_id: entry.event_id,
        event_type: entry.event_type,
        timestamp: new Date(entry.timestamp).toISOString(),
        snapshot: true,
      };
    },
  };
  return reader;
}

export type LiveReader = ReturnType<typeof createLiveReader>;
