// Seeds leads the way production makes them, for tests and benches that read the live state: a profile is a MongoDB
// insert then `setProfile`; a score is the fold of the lead's events, committed with `commitLeads` (its older history
// as pages in MongoDB, its newest entries as the tail), exactly what the worker commits after scoring.
import { randomUUID } from "node:crypto";
import {
  COLLECTIONS,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type HistoryPageDocument,
  type LeadDocument,
  type ScorableEvent,
  type StageThresholds,
  stageFor,
} from "@leadscore/contracts";
import {
  addToBreakdown,
  commitLeads,
  emptyBreakdown,
  foldLive,
  type LiveEntry,
  type LiveKeys,
  type LiveLead,
  leadHashField,
  liveKeys,
  type MovementEvent,
  newGeneration,
  newPageId,
  PAGE_SIZE,
  type Profile,
  pageDocument,
  pageRef,
  rankKey,
  setProfile,
  stateFields,
  TAIL_SPILL_AT,
} from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** A lead's fold state as `stateFields` takes it. */
export type LiveState = Omit<LiveLead, keyof Profile | "id" | "version">;

/** `points` events of one lead, `stepMs` apart from `start`, ids `<lead>-e0000`… in event-time order. */
export function eventsOf(leadId: string, points: readonly number[], start: number, stepMs = 60_000): ScorableEvent[] {
  return points.map((value, i) => {
    const timestamp = start + i * stepMs;
    return {
      event_id: `${leadId}-e${String(i).padStart(4, "0")}`,
      lead_id: leadId,
      event_type: value >= 0 ? "purchase" : "unsubscribe",
      timestamp,
      received_at: timestamp,
      points: value,
      rule_id: value >= 0 ? "purchase" : "unsubscribe",
    };
  });
}

/** A lead's live state after folding its events, and the history pages that hold its entries older than the tail. */
export function foldLiveState(
  leadId: string,
  events: readonly ScorableEvent[],
  options: { cap?: number; thresholds?: StageThresholds; createdAt?: number; updatedAt?: number } = {},
): { state: LiveState; pages: HistoryPageDocument[] } {
  const cap = options.cap ?? DEFAULT_SCORE_CAP;
  const folded = foldLive(events, cap, { score: 0, count: 0, reachedAt: null });
  const fold = folded.state;
  const entries: LiveEntry[] = folded.history.map((entry) => ({ ...entry, late: false }));
  const pageCount = entries.length < TAIL_SPILL_AT ? 0 : Math.floor(entries.length / PAGE_SIZE) - 1;
  const written = new Date(options.updatedAt ?? Date.now());
  const pages: HistoryPageDocument[] = Array.from({ length: pageCount }, (_, n) =>
    pageDocument(newPageId(leadId), leadId, entries.slice(n * PAGE_SIZE, (n + 1) * PAGE_SIZE), written),
  );
  const tail = entries.slice(pageCount * PAGE_SIZE);
  const before = entries[pageCount * PAGE_SIZE - 1];
  const last = entries.at(-1);
  const createdAt = options.createdAt ?? entries[0]?.received_at ?? written.getTime();
  return {
    state: {
      score: fold.score,
      stage: stageFor(fold.score, options.thresholds ?? DEFAULT_STAGE_THRESHOLDS),
      count: fold.count,
      lastKey: last?.sort_key ?? null,
      reachedAt: fold.reachedAt,
      lastEventAt: last?.timestamp ?? null,
      createdAt,
      updatedAt: options.updatedAt ?? last?.received_at ?? createdAt,
      tail,
      base: before
        ? { score: before.score, count: before.seq, reachedAt: before.score_reached_at }
        : { score: 0, count: 0, reachedAt: null },
      pages: pages.map((page, n) => pageRef(page._id, entries.slice(n * PAGE_SIZE, (n + 1) * PAGE_SIZE))),
      breakdown: addToBreakdown(emptyBreakdown(), entries, 1),
    },
    pages,
  };
}

export interface LeadSeed {
  id: string;
  /** Inserted into MongoDB's `leads`, then set in the live state, before any score. */
  profile?: Profile;
  /** Folded and committed; none: the lead has only its profile. */
  events?: ScorableEvent[];
  createdAt?: number;
  /** `updated_at` of the committed state (default: the newest event's `received_at`). */
  updatedAt?: number;
  /** Published by the commit (e.g. `encodeScoreUpdates` messages). */
  messages?: [string, Buffer][];
  /** Recorded as the lead's movement into its stage when the commit moves it (see movements.ts in live). */
  movement?: MovementEvent;
}

export interface LiveSeeder {
  keys: LiveKeys;
  /** The generation commits name; set when the live state has none yet. */
  generation(): Promise<string>;
  /** Seeds leads in order: every profile first (MongoDB, then Redis), then the scores (pages, then one commit per chunk). */
  seed(leads: readonly LeadSeed[]): Promise<void>;
  /** A lead whose events were folded: a score of `score` reached at `at` by one event. */
  scored(id: string, score: number, at: number, extra?: Omit<LeadSeed, "id" | "events">): LeadSeed;
}

const COMMIT_CHUNK = 100;

export function createLiveSeeder(options: {
  redis: Redis;
  db: Db;
  redisPrefix: string;
  cap?: number;
  thresholds?: StageThresholds;
}): LiveSeeder {
  const { redis, db } = options;
  const cap = options.cap ?? DEFAULT_SCORE_CAP;
  const thresholds = options.thresholds ?? DEFAULT_STAGE_THRESHOLDS;
  const keys = liveKeys(options.redisPrefix);

  async function generation(): Promise<string> {
    // Built on this run of Redis, as the worker's are: a current live state.
    await redis.set(keys.gen, await newGeneration(redis, `test-${randomUUID()}`), "NX");
    return (await redis.get(keys.gen)) as string;
  }

  return {
    keys,
    generation,
    scored(id, score, at, extra = {}) {
      return { id, events: eventsOf(id, [score], at), ...extra };
    },
    async seed(leads) {
      const profiled = leads.filter((lead) => lead.profile);
      if (profiled.length > 0) {
        const docs: LeadDocument[] = profiled.map((lead) => ({
          _id: lead.id,
          ...(lead.profile as Profile),
          created_at: new Date(lead.createdAt ?? lead.updatedAt ?? Date.now()),
        }));
        await db.collection<LeadDocument>(COLLECTIONS.leads).insertMany(docs);
        const zero = { rankKey: rankKey(0, null, cap), stage: stageFor(0, thresholds) };
        for (const lead of profiled) {
          const at = lead.createdAt ?? lead.updatedAt ?? Date.now();
          await setProfile(redis, keys, lead.id, lead.profile as Profile, at, zero);
        }
      }
      const scored = leads.filter((lead) => lead.events && lead.events.length > 0);
      if (scored.length === 0) return;
      const gen = await generation();
      for (let from = 0; from < scored.length; from += COMMIT_CHUNK) {
        const chunk = scored.slice(from, from + COMMIT_CHUNK);
        const versions = await Promise.all(
          chunk.map((lead) => redis.hget(keys.lead(lead.id), leadHashField("version"))),
        );
        const folded = chunk.map((lead) =>
          foldLiveState(lead.id, lead.events ?? [], {
            cap,
            thresholds,
            createdAt: lead.createdAt,
            updatedAt: lead.updatedAt,
          }),
        );
        const pages = folded.flatMap((fold) => fold.pages);
        if (pages.length > 0) await db.collection<HistoryPageDocument>(COLLECTIONS.historyPages).insertMany(pages);
        const outcomes = await commitLeads(
          redis,
          keys,
          gen,
          chunk.map((lead, index) => {
            const { state } = folded[index] as { state: LiveState };
            return {
              leadId: lead.id,
              mode: "commit" as const,
              expected: Number(versions[index] ?? 0),
              fields: stateFields(state),
              rankKey: rankKey(state.score, state.reachedAt, cap),
              updatedAt: state.updatedAt,
              stage: state.stage,
              pending: [],
              messages: lead.messages ?? [],
              movement: lead.movement,
            };
          }),
        );
        const failed = outcomes.findIndex((outcome) => outcome !== "committed");
        if (failed >= 0) throw new Error(`seeding ${chunk[failed]?.id}: ${outcomes[failed]}`);
      }
    },
  };
}
