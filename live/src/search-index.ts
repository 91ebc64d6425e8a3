// The search texts: per profiled lead, what a `company`/`q` search compares, kept in Redis beside the live state so
// that a search never scans MongoDB's profiles. One hash (`LiveKeys.searchTexts`), lead id → text, written by the
// profile script with the profile (set-profile-9.lua) and by the rebuild from MongoDB's profiles; a lead that only
// events created has none, and its id is searched in the score index instead.
//
// A text is the company in lower case (what `company` compares), then the id, name, email and company folded (what
// `q` compares), joined by NUL, which no profile field and no search word holds. A search walks the hash in steps of
// SEARCH_STEP entries, each one short read-only script that does the matching inside Redis and replies with the
// matches and their positions in the sort's index, so the edge decodes only the matches' ids and numbers, never a
// lead's hash, and reads the live state of one page of leads.
//
// Cost in Redis per profiled lead: its id twice (field, text), name, email, company twice and 4 NULs, plus ~45 B of
// hash-table entry; `npm run bench:search-load` measures 116 B a lead at ids of ~9 and profiles of ~45 characters
// (`MEMORY USAGE` of the hash). Nothing per event; a lead without a profile has no text.
import { STAGES, type Stage, type StageThresholds } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Profile } from "./codec.ts";
import { filterRankRange } from "./decay-index.ts";
import type { LiveKeys } from "./keys.ts";
import type { LeadSort, ListPosition } from "./reader.ts";

/**
 * Entries of the texts hash (or of the score index, for ids) one search step looks at. Redis runs one script at a
 * time, so a step is a stall for every edge's de-duplication claim and queue write: at 1,000 entries a step took
 * 5.7–7.3 ms p50 (1,581 leads, `q=e`, on the shared box at load 14–19), at 200 0.7 ms, and no more Redis time per
 * search (23–25 ms at 1,000, 14 ms at 200). See docs/performance.md#search-load.
 */
export const SEARCH_STEP = 200;

/** Text without case or diacritics: what a search compares ("Müller" → "muller"). */
export function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** A search's words, folded, in any order: "Silva  Ána" → ["silva", "ana"]; blank text is one word as it is. */
export function searchWords(q: string): string[] {
  const words = fold(q)
    .split(/\s+/)
    .filter((word) => word !== "");
  return words.length > 0 ? words : [fold(q)];
}

/** A lead's search text (see above). */
export function searchText(leadId: string, profile: Profile): string {
  const company = profile.company ?? "";
  return [company.toLowerCase(), ...[leadId, profile.name, profile.email, company].map((v) => fold(v ?? ""))].join(
    "\0",
  );
}

/**
 * Writes the search texts of leads given with their profiles, in pipelined chunks; `beforeChunk` runs before each
 * (the rebuild checks its lock there). Used by the rebuild, after it deleted the live keys.
 */
export async function writeSearchTexts(
  redis: Redis,
  keys: Pick<LiveKeys, "searchTexts">,
  leads: Iterable<[string, Profile]>,
  beforeChunk: () => Promise<void> = async () => {},
): Promise<number> {
  let written = 0;
  let chunk: string[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    await beforeChunk();
    await redis.hset(keys.searchTexts, ...chunk);
    written += chunk.length / 2;
    chunk = [];
  };
  for (const [id, profile] of leads) {
    chunk.push(id, searchText(id, profile));
    if (chunk.length >= 2 * SEARCH_STEP) await flush();
  }
  await flush();
  return written;
}

/**
 * The rebuild's part: the search text of every lead it rebuilt that has a profile (`ids`: the leads rebuilt;
 * `profiles`: the newest profile of each lead that has one).
 */
export function fillSearchTexts(
  redis: Redis,
  keys: Pick<LiveKeys, "searchTexts">,
  ids: readonly string[],
  profiles: ReadonlyMap<string, { current: Profile }>,
  beforeChunk?: () => Promise<void>,
): Promise<number> {
  const profiled = function* (): Generator<[string, Profile]> {
    for (const id of ids) {
      const profile = profiles.get(id);
      if (profile) yield [id, profile.current];
    }
  };
  return writeSearchTexts(redis, keys, profiled(), beforeChunk);
}

// KEYS, ARGV and reply: in the scripts.
const SEARCH_TEXTS = redisScript<string[]>(new URL("./lua/search-texts-3.lua", import.meta.url));
const SEARCH_IDS = redisScript<string[]>(new URL("./lua/search-ids-2.lua", import.meta.url));

/** A search as the live state answers it. */
export interface LiveSearch {
  /** Part of the company, any case. */
  company?: string | undefined;
  /** Words, each part of the id, name, email or company (see `searchWords`). */
  q?: string | undefined;
  minScore?: number | undefined;
  maxScore?: number | undefined;
  stage?: Stage | undefined;
  sort: LeadSort;
  /** The instant (epoch ms) the score and stage filters are taken at, with decay; default: now. */
  at?: number | undefined;
}

export interface LiveSearcherOptions {
  redis: Redis;
  keys: LiveKeys;
  cap: number;
  thresholds: StageThresholds;
  /** The half-life in force (seconds), or null without decay: the index holds `decayRankKey`s then. */
  halfLife?: () => number | null;
  now?: () => number;
}

export function createLiveSearcher(options: LiveSearcherOptions) {
  const { redis, keys, cap, thresholds } = options;
  const halfLife = options.halfLife ?? (() => null);
  const now = options.now ?? Date.now;

  const indexOf = (sort: LeadSort) =>
    sort === "-score" || sort === "score"
      ? keys.byScore
      : sort === "-updated_at" || sort === "updated_at"
        ? keys.byUpdated
        : keys.byLastEvent;

  /** Leads' values in an activity order, from the stage indexes, which hold every lead (one ZMSCORE each). */
  async function placeInStages(ids: string[], sort: LeadSort): Promise<ListPosition[]> {
    const byActivity = sort === "-last_event_at" || sort === "last_event_at";
    const pipeline = redis.pipeline();
    for (const stage of STAGES) pipeline.zmscore(byActivity ? keys.byLastEventIn(stage) : keys.byUpdatedIn(stage), ids);
    const perStage = ((await pipeline.exec()) ?? []).map(([error, values]) => {
      if (error) throw error;
      return values as (string | null)[];
    });
    return ids.flatMap((id, index) => {
      const value = perStage.map((values) => values[index]).find((one) => one !== null && one !== undefined);
      return value === undefined || value === null ? [] : [{ id, value: Number(value) }];
    });
  }

  /**
   * Every lead matching the search, at most `max` from each walk (texts, ids), with its position in the sort's index;
   * unordered. `beforeStep` runs before each step: a caller under a time limit throws from it, one
   * sharing the process with hot paths waits in it.
   */
  async function matches(
    search: LiveSearch,
    max: number,
    beforeStep: () => void | Promise<void> = () => {},
  ): Promise<ListPosition[]> {
    const bounds = filterRankRange(search, search.at ?? now(), halfLife(), cap, thresholds);
    const words = search.q === undefined ? [] : searchWords(search.q);
    // A word with a lone surrogate is in no stored text (profile fields refuse them), though its UTF-8 would be.
    if (bounds === null || words.some((word) => /\p{Cs}/u.test(word))) return [];
    const sortIndex = indexOf(search.sort);
    const seen = new Set<string>();
    const found: ListPosition[] = [];
    /** Idle leads found: in no global activity index, they are placed by their stage's (idle.ts). */
    const unplaced: string[] = [];
    /** Runs a walk's steps: each replies with its matches placed (id, rank key, value in the sort's index). */
    const walk = async (step: (cursor: string) => Promise<string[]>) => {
      let cursor = "0";
      let count = 0;
      do {
        await beforeStep();
        const reply = await step(cursor);
        cursor = reply[0] as string;
        for (let i = 1; i + 2 < reply.length && count < max; i += 3) {
          const id = reply[i] as string;
          // A scan may return an entry twice, and the two walks the same lead.
          if (seen.has(id)) continue;
          seen.add(id);
          count += 1;
          const rank = Number(reply[i + 1]);
          if (rank < bounds[0] || rank > bounds[1]) continue;
          const value = reply[i + 2] as string;
          if (value === "") unplaced.push(id);
          else found.push({ id, value: Number(value) });
        }
      } while (cursor !== "0" && count < max);
    };
    const company = search.company?.toLowerCase() ?? "";
    const [texts, leads] = (await redis.pipeline().hlen(keys.searchTexts).zcard(keys.byScore).exec()) ?? [];
    await walk((cursor) =>
      SEARCH_TEXTS.run(redis, [keys.searchTexts, keys.byScore, sortIndex], [cursor, SEARCH_STEP, company, ...words]),
    );
    // Leads without a text have no profile: they match by id alone, and never a `company`. (Every lead is in the
    // score index, and a text is only written with a lead's live state: as many texts as leads means none lacks one.)
    if (search.company === undefined && words.length > 0 && texts?.[1] !== leads?.[1]) {
      await walk((cursor) => SEARCH_IDS.run(redis, [keys.byScore, sortIndex], [cursor, SEARCH_STEP, ...words]));
    }
    if (unplaced.length > 0) found.push(...(await placeInStages(unplaced, search.sort)));
    return found;
  }

  return { matches };
}

export type LiveSearcher = ReturnType<typeof createLiveSearcher>;

export interface PartitionedSearcherOptions extends Omit<LiveSearcherOptions, "keys"> {
  /** Every lead partition's keys, in partition order (one entry without partitions). */
  keys: readonly LiveKeys[];
}

/**
 * A search over every lead partition: each partition's searcher walks its own texts and indexes, one after another,
 * as one partition's steps are (a search never holds several Redis scripts at once), each considering up to `max`
 * per source; the walk stops once `max` match. Unordered, as one partition's matches are.
 */
export function createPartitionedSearcher(options: PartitionedSearcherOptions): LiveSearcher {
  const searchers = options.keys.map((keys) => createLiveSearcher({ ...options, keys }));
  return {
    async matches(search, max, beforeStep) {
      const found: ListPosition[] = [];
      for (const searcher of searchers) {
        if (found.length >= max) break;
        found.push(...(await searcher.matches(search, max, beforeStep)));
      }
      return found;
    },
  };
}
