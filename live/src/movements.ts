// Movements: which leads entered which stage, when, and the event that moved them. The commit script appends one to
// the stream of the stage entered (lua/includes/movements.lua) in the same atomic step as the stage change, so a
// reader needs no scan and no MongoDB read. A stream per stage, not one for all: a page of one stage reads only
// entries of that stage (XREVRANGE from the cursor), and a stream's ids are unique and increase, so a cursor is
// exact and entries added while a reader pages land before its cursor, never behind it.
//
// Bounded twice per stage: entries older than MOVEMENT_WINDOW_MS are trimmed by every append (MINID ~), and at most
// about MOVEMENT_CAP entries are kept (MAXLEN ~). An entry is ~127 bytes in the stream's listpacks (measured with
// UUIDv7 event ids), so the four streams hold at most ~4 × 10,000 × 127 B ≈ 5 MB.
//
// The keys sit under `<prefix>:movements:`, not `<prefix>:live:`: they are what commits did, not a function of
// MongoDB, so a rebuild of the live state neither drops them nor writes any (it does not go through the commit).
import { STAGES, type Stage } from "@leadscore/contracts";
import type { Redis } from "ioredis";

/** How far back movements are kept: 7 days. */
export const MOVEMENT_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** About how many movements are kept per stage entered (MAXLEN ~: Redis trims whole nodes, so a few more). */
export const MOVEMENT_CAP = 10_000;

/** The stream of the movements into `stage`. */
export function movementKey(redisPrefix: string, stage: Stage): string {
  return `${redisPrefix}:movements:${stage}`;
}

/** The event that moved a lead, as a commit passes it: `[event_id, event_type, timestamp, score]`. */
export type MovementEventWire = [string, string, number, number];

export interface MovementEvent {
  event_id: string;
  event_type: string;
  /** Event time, ms. */
  timestamp: number;
  /** The lead's score after the commit. */
  score: number;
}

export function encodeMovementEvent(event: MovementEvent): string {
  return JSON.stringify([event.event_id, event.event_type, event.timestamp, event.score] satisfies MovementEventWire);
}

/** A lead entering a stage. */
export interface Movement extends MovementEvent {
  /** Stream id: unique, increasing; where a page continues from. */
  id: string;
  lead_id: string;
  from: Stage;
  to: Stage;
  /** When the commit happened, ms. */
  at: number;
}

/**
 * Where a page of movements ends: the last one's stream id, stage and lead partition (ties between stages: later stages
 * first; between partitions, whose streams may give the same id: higher partitions first).
 */
export interface MovementPosition {
  id: string;
  stage: Stage;
  /** The lead partition of its stream (0 without partitions). */
  partition?: number;
}

export interface MovementQuery {
  /** Only movements into this stage; all stages when absent. */
  stage?: Stage;
  /** Oldest commit time included, ms (by the stream id: Redis's clock). */
  since: number;
  limit: number;
  after: MovementPosition | null;
}

function decode(stage: Stage, [id, flat]: [string, string[]]): Movement {
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  const [event_id, event_type, timestamp, score] = JSON.parse(fields.e ?? "[]") as MovementEventWire;
  return {
    id,
    lead_id: fields.lead ?? "",
    from: fields.from as Stage,
    to: stage,
    at: Number(fields.at),
    event_id,
    event_type,
    timestamp,
    score,
  };
}

/** Stream ids compared as Redis orders them (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number) as [number, number];
  const [bm, bs] = b.split("-").map(Number) as [number, number];
  return am - bm || as - bs;
}

/**
 * Movements newest first, `limit` of them after `after`: per stage (and per lead partition, `redisPrefix` being every
 * partition's prefix, `partitionPrefixes`) one XREVRANGE from the cursor down to `since`, merged by id (ties: the later
 * stage first, qualified before hot, then the higher partition). Returns the page and where the next one starts (null
 * when this one is the last).
 */
export async function readMovements(
  redis: Redis,
  redisPrefix: string | readonly string[],
  query: MovementQuery,
): Promise<{ movements: Movement[]; next: MovementPosition | null }> {
  const prefixes = typeof redisPrefix === "string" ? [redisPrefix] : redisPrefix;
  const stages = query.stage ? [query.stage] : [...STAGES].reverse();
  const rank = (stage: Stage) => STAGES.indexOf(stage);
  // Where a stream sits among the ties on one id: by stage, then by partition.
  const tieRank = (stage: Stage, partition: number) => rank(stage) * prefixes.length + partition;
  const streams = prefixes.flatMap((prefix, partition) => stages.map((stage) => ({ prefix, partition, stage })));
  const pipeline = redis.pipeline();
  for (const { prefix, partition, stage } of streams) {
    const after = query.after;
    // Strictly after the cursor in (id desc, stage desc, partition desc) order: a stream that comes later among the
    // ties may repeat the cursor's id.
    const end =
      after === null
        ? "+"
        : tieRank(stage, partition) < tieRank(after.stage, after.partition ?? 0)
          ? after.id
          : `(${after.id}`;
    pipeline.xrevrange(movementKey(prefix, stage), end, `${Math.max(0, query.since)}-0`, "COUNT", query.limit + 1);
  }
  const replies = (await pipeline.exec()) ?? [];
  const all: { movement: Movement; partition: number }[] = [];
  replies.forEach(([error, entries], index) => {
    if (error) throw error;
    const { stage, partition } = streams[index] as (typeof streams)[number];
    for (const entry of entries as [string, string[]][]) all.push({ movement: decode(stage, entry), partition });
  });
  all.sort(
    (a, b) =>
      compareIds(b.movement.id, a.movement.id) ||
      tieRank(b.movement.to, b.partition) - tieRank(a.movement.to, a.partition),
  );
  const page = all.slice(0, query.limit);
  const last = page.at(-1);
  const next =
    all.length > query.limit && last
      ? { id: last.movement.id, stage: last.movement.to, ...(last.partition > 0 ? { partition: last.partition } : {}) }
      : null;
  return { movements: page.map(({ movement }) => movement), next };
}
