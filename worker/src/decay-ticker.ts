// Stage changes caused by time: with decay on, a lead falls below a threshold at an instant no event marks. Every
// turn (a fraction of a second) one worker — the holder of the ticker's lock, taken with a token the commit script
// checks — finds the leads that crossed a threshold since the last turn with one range read of the score index per
// threshold (`decayCrossingRange`: no per-lead timer, no scan) and commits each one's new stage, its stage indexes, its
// `score_update` and its `lead.stage_changed` message (event type `decay`) in one script call
// (`commitDecayCrossings`), which moves the interval's end (`through`) forward only with the interval's last chunk. A
// ticker killed mid-way leaves `through` where it was: the next holder runs the interval again, and a lead already
// moved is left as it is (the commit compares its stored stage), so each crossing is committed once.
import {
  crossingInstant,
  decayedScore,
  decayKey,
  type ScoreUpdate,
  STAGES,
  type Stage,
  type StageThresholds,
} from "@leadscore/contracts";
import {
  commitDecayCrossings,
  type DecayCrossingCommit,
  DecayLockLostError,
  decayCrossingRange,
  decodeLeadHash,
  indexPlace,
  type LeadHashField,
  type LiveKeys,
  leadHashFields,
} from "@leadscore/live";
import { createLock, type Logger } from "@leadscore/runtime";
import type { Redis } from "ioredis";

export interface DecayTickerOptions {
  redis: Redis;
  keys: LiveKeys;
  cap: number;
  thresholds: StageThresholds;
  halfLife(): number | null;
  encodeUpdates(updates: ScoreUpdate[]): Map<string, [string, Buffer][]>;
  log: Logger;
  now?: () => number;
  /** Pause between turns. */
  tickMs?: number;
  /** Runs after the reads and before the commit of each chunk (tests stop a ticker here). */
  beforeCommit?: () => Promise<void>;
}

export interface DecayTicker {
  start(): void;
  stop(): Promise<void>;
  /** One turn, when this process gets the lock: the crossings committed (tests). */
  tick(): Promise<number>;
}

const TICK_MS = 200;
/** How long the lock outlives a turn that stopped renewing it (a killed worker's): the next holder waits this long. */
const LOCK_TTL_MS = 1_000;
/** Leads per commit call. */
const CHUNK = 200;
/**
 * How far before the last turn's end each turn looks again. A worker files a lead under the stage of the instant it
 * planned the commit; when that commit lands after a turn whose interval held the lead's new crossing, that turn read
 * the lead's old key and missed it. Looking back finds it (a lead already moved is skipped: its stored stage is the
 * one it decayed to), at the cost of reading again the leads that crossed in the last LOOKBACK_MS.
 */
const LOOKBACK_MS = 2_000;
const READ_FIELDS: readonly LeadHashField[] = ["version", "score", "reachedAt", "lastEventAt", "stage"];

export function createDecayTicker(options: DecayTickerOptions): DecayTicker {
  const { redis, keys, cap, thresholds, log } = options;
  const now = options.now ?? Date.now;
  const lock = createLock({ redis, key: keys.decayLock, ttlMs: LOCK_TTL_MS });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  /** The leads whose key crossed a threshold in `(from, to]`. */
  async function crossing(from: number, to: number, halfLifeSeconds: number): Promise<string[]> {
    const pipeline = redis.pipeline();
    for (const threshold of thresholds) {
      if (threshold <= 0) continue;
      const [lo, hi] = decayCrossingRange(threshold, from, to, halfLifeSeconds);
      pipeline.zrangebyscore(keys.byScore, String(lo), String(hi));
    }
    const ids = new Set<string>();
    for (const [error, found] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      for (const id of found as string[]) ids.add(id);
    }
    return [...ids];
  }

  /** The commits of the leads whose stored stage is not the one they decayed to by `t`. */
  async function commitsOf(ids: string[], t: number, halfLifeSeconds: number): Promise<DecayCrossingCommit[]> {
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(keys.lead(id), ...leadHashFields(READ_FIELDS));
    const replies = (await pipeline.exec()) ?? [];
    const commits: DecayCrossingCommit[] = [];
    const updates: ScoreUpdate[] = [];
    replies.forEach(([error, values], index) => {
      if (error) throw error;
      const hash = decodeLeadHash(READ_FIELDS, values as (string | null)[]);
      if (!hash.version || !hash.lastEventAt) return;
      const id = ids[index] as string;
      const score = Number(hash.score || 0);
      const at = Number(hash.lastEventAt);
      const state = { score, reachedAt: hash.reachedAt ? Number(hash.reachedAt) : null, lastEventAt: at };
      const { stage } = indexPlace(state, t, cap, thresholds, halfLifeSeconds);
      // Time only lowers a stage: a lead filed lower than its score (or not filed) is not this ticker's to move.
      if (hash.stage === null || hash.stage === undefined) return;
      if (STAGES.indexOf(stage) >= STAGES.indexOf(hash.stage as Stage)) return;
      // The instant it left the lowest threshold it is now below (it may have left several since the last turn).
      const left = thresholds[STAGES.indexOf(stage as Stage)] as number;
      const instant = crossingInstant(decayKey(score, at, halfLifeSeconds), left, at, halfLifeSeconds);
      const decayed = decayedScore(score, at, instant, halfLifeSeconds);
      const eventId = `decay:${stage}`;
      commits.push({
        leadId: id,
        expected: Number(hash.version),
        stage,
        score: decayed,
        at: instant,
        eventId,
        messages: [],
      });
      updates.push({
        lead_id: id,
        current_score: decayed,
        delta: 0,
        stage,
        event_id: eventId,
        event_type: "decay",
        timestamp: new Date(instant).toISOString(),
      });
    });
    const messages = options.encodeUpdates(updates);
    for (const commit of commits) commit.messages = messages.get(commit.leadId) ?? [];
    return commits;
  }

  async function turn(): Promise<number> {
    const halfLifeSeconds = options.halfLife();
    if (halfLifeSeconds === null) return 0;
    const committed = await lock.withLock(async () => {
      const to = now();
      const stored = await redis.get(keys.decayThrough);
      const from = stored === null ? to - TICK_MS : Math.min(Number(stored), to);
      const ids = await crossing(Math.min(from, to - LOOKBACK_MS), to, halfLifeSeconds);
      let count = 0;
      for (let start = 0; ; start += CHUNK) {
        const chunk = ids.slice(start, start + CHUNK);
        const last = start + CHUNK >= ids.length;
        let commits = await commitsOf(chunk, to, halfLifeSeconds);
        await options.beforeCommit?.();
        // A lead an event committed since it was read is read again: its new state may still have crossed.
        for (let tries = 0; tries < 3; tries += 1) {
          const outcomes = await commitDecayCrossings(
            redis,
            keys,
            lock.token,
            last && tries === 0 ? to : null,
            commits,
          );
          count += outcomes.filter((outcome) => outcome === "committed").length;
          const moved = commits.filter((_, index) => outcomes[index] === "conflict").map((c) => c.leadId);
          if (moved.length === 0) break;
          commits = await commitsOf(moved, to, halfLifeSeconds);
        }
        if (last) break;
      }
      return count;
    });
    return committed ?? 0;
  }

  const loop = () => {
    if (stopped) return;
    running = turn()
      .catch((error: Error) => {
        if (!(error instanceof DecayLockLostError)) log.warn("decay ticker turn failed", { error: error.message });
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, options.tickMs ?? TICK_MS);
      });
  };

  return {
    start() {
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    tick: turn,
  };
}
