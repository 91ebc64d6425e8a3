import { type FieldProblem, normalizeEvent, type QueuedEvent, type StoreLimits } from "@leadscore/contracts";
import { type DedupeSlot, dedupeSlot, type Logger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { ApiError } from "../errors.ts";
import type { EdgeMetrics } from "../metrics.ts";
import type { Committer } from "./committer.ts";
import { CLAIMED, type Claimer, FAILED, PENDING, SEEN } from "./dedupe.ts";
import type { Enqueuer } from "./enqueuer.ts";
import type { QueuedEvents } from "./queued-events.ts";
import { uuidv7 } from "./uuidv7.ts";

export type ItemStatus = "accepted" | "duplicate" | "rejected";

export interface ItemResult {
  index: number;
  event_id: string | null;
  status: ItemStatus;
  error?: { code: "VALIDATION_FAILED"; message: string; details: FieldProblem[] };
}

export interface IngestOptions {
  redis: Redis;
  queuedEvents: QueuedEvents;
  claimer: Claimer;
  enqueuer: Enqueuer;
  /** Claims and queues in one call where the dedupe buckets share the queue's slot (one lead partition). */
  committer?: Committer;
  metrics: EdgeMetrics;
  log: Logger;
  /** REDIS_PREFIX, or the lead partitions' prefixes, which the de-duplication buckets are spread over. */
  redisPrefix: string | readonly string[];
  /** Buckets of the de-duplication window (`DEDUPE_BUCKETS`). */
  dedupeBuckets: number;
  /** Waiting events past which new events are refused with 503. */
  maxQueueDepth: number;
  /** What the store keeps of metadata: events it would refuse or alter are rejected here. */
  limits: StoreLimits;
  /** Oldest timestamp accepted, in days before the event is received. */
  maxEventAgeDays: number;
  now: () => number;
  /** How long to wait for another request's claim on the same event id to be settled before answering 503. */
  pendingWaitMs?: number;
}

/** An event that passed validation, with the Redis key that claims its id. */
interface Candidate {
  index: number;
  event: QueuedEvent;
  slot: DedupeSlot;
}

/** How often the queue depth behind the back-pressure check is refreshed. */
const DEPTH_REFRESH_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function unavailable(message: string): ApiError {
  return new ApiError("SERVICE_UNAVAILABLE", message, [], { "Retry-After": "1" });
}

function rejectionReason(details: FieldProblem[]): string {
  const field = details[0]?.path ?? "body";
  return `invalid_${field.split(".")[0]?.replace(/[^a-z_]/g, "") || "body"}`;
}

/**
 * The ingestion pipeline shared by every route: validate, de-duplicate (claim each event id in Redis), then hand
 * the fresh events to the micro-batching enqueuer. Resolves only once they are in Redis; when they cannot be
 * queued, releases the ids it claimed and refuses the whole request with 503.
 */
export function createIngest(options: IngestOptions) {
  const { redis, metrics, claimer } = options;
  let depth = { events: 0, at: 0 };
  let refreshing = false;

  const refreshDepth = () => {
    if (refreshing) return;
    refreshing = true;
    void options.queuedEvents
      .read()
      .then((events) => {
        depth = { events, at: options.now() };
      })
      .catch(() => undefined)
      .finally(() => {
        refreshing = false;
      });
  };

  const refuse = (message: string, detail: Record<string, unknown>) => {
    metrics.unavailable();
    options.log.warn(message, detail);
    return unavailable(`${message}; retry later`);
  };

  /** Best effort: if Redis is away these ids stay marked until their TTL (the worker's write is the ground truth). */
  const release = async (slots: DedupeSlot[]) => {
    try {
      await claimer.release(slots);
    } catch (error) {
      options.log.error("could not release dedupe keys of events that were not queued", {
        error: (error as Error).message,
        keys: slots.length,
      });
    }
  };

  /** Refuses at once (503) while the queue holds too many events or its Redis is not connected. */
  const checkCapacity = (now: number) => {
    if (now - depth.at > DEPTH_REFRESH_MS) refreshDepth();
    if (depth.events > options.maxQueueDepth) {
      metrics.unavailable();
      throw unavailable(`the queue holds more than ${options.maxQueueDepth} events; retry later`);
    }
    if (redis.status !== "ready") {
      metrics.unavailable();
      throw unavailable("the queue is not reachable; retry later");
    }
  };

  /**
   * Validates each event and settles its id: invalid ones are rejected, a repeat of an id earlier in the same request
   * is a duplicate, the rest are candidates for a dedupe claim.
   */
  const validate = (raw: readonly unknown[], now: number) => {
    const results: ItemResult[] = new Array(raw.length);
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    const mint = () => uuidv7(now);
    let duplicates = 0;
    for (let index = 0; index < raw.length; index++) {
      const outcome = normalizeEvent(raw[index], now, mint, options.limits, options.maxEventAgeDays);
      if (!outcome.ok) {
        metrics.rejected(rejectionReason(outcome.details));
        const id = (raw[index] as { event_id?: unknown } | null)?.event_id;
        results[index] = {
          index,
          event_id: typeof id === "string" && id.length <= 128 ? id : null,
          status: "rejected",
          error: { code: "VALIDATION_FAILED", message: "invalid event", details: outcome.details },
        };
      } else if (seen.has(outcome.event.event_id)) {
        duplicates++;
        results[index] = { index, event_id: outcome.event.event_id, status: "duplicate" };
      } else {
        seen.add(outcome.event.event_id);
        candidates.push({
          index,
          event: outcome.event,
          slot: dedupeSlot(options.redisPrefix, outcome.event.event_id, options.dedupeBuckets),
        });
      }
    }
    return { results, candidates, duplicates };
  };

  /**
   * Claims the candidates' ids, one reply per candidate. An id another request claimed and has not queued yet is
   * waited for instead of guessed (a concurrent copy is a duplicate once the first is queued; an id whose claimer died
   * is free again once its pending mark expires, and then this request's retry is the one that queues it). When Redis
   * fails or an id stays pending, releases what it claimed and refuses with 503.
   */
  const claimIds = async (candidates: readonly Candidate[]): Promise<number[]> => {
    let claims: number[];
    try {
      claims = await claimer.claim(candidates.map((candidate) => candidate.slot));
    } catch (error) {
      throw refuse("the dedupe check failed", { error: (error as Error).message });
    }
    const claimedSlots = () => candidates.filter((_, i) => claims[i] === CLAIMED).map((item) => item.slot);
    const pendingWaitMs = options.pendingWaitMs ?? 2500;
    for (let pause = 5, waited = 0; claims.includes(PENDING) && waited < pendingWaitMs; pause *= 2) {
      await sleep(pause);
      waited += pause;
      const again = claims.flatMap((claim, i) => (claim === PENDING ? [i] : []));
      let replies: number[];
      try {
        replies = await claimer.claim(again.map((i) => (candidates[i] as Candidate).slot));
      } catch (error) {
        await release(claimedSlots());
        throw refuse("the dedupe check failed", { error: (error as Error).message });
      }
      again.forEach((index, k) => {
        claims[index] = replies[k] ?? FAILED;
      });
    }
    if (claims.includes(PENDING)) {
      await release(claimedSlots());
      throw refuse("another request with the same event id is still being queued", { events: candidates.length });
    }
    return claims;
  };

  /** Queues the fresh events; when the queue does not take them, releases their ids and refuses with 503. */
  const enqueue = async (fresh: readonly Candidate[]) => {
    try {
      await options.enqueuer.submit(fresh.map((item) => item.event));
    } catch (error) {
      // Not queued: forget the ids so the client's retry is not mistaken for a duplicate.
      await release(fresh.map((item) => item.slot));
      throw refuse("the queue did not accept the events", { error: (error as Error).message, events: fresh.length });
    }
    // Not awaited: until it lands, a repeat of these ids waits as for a pending claim, and if it never lands the
    // pending marks expire and a repeat is queued again (the worker's write keeps it counted once).
    claimer.confirm(fresh.map((item) => item.slot)).catch((error: Error) => {
      options.log.warn("could not confirm dedupe keys of queued events", { error: error.message });
    });
  };

  /**
   * The one-call path: what it queued is done, what was seen is a duplicate; ids another request claimed in two steps
   * and has not queued yet are returned, for the two-step path to wait for.
   */
  const commit = async (committer: Committer, candidates: Candidate[], results: ItemResult[]) => {
    let claims: number[];
    try {
      claims = await committer.commit(candidates);
    } catch (error) {
      throw refuse("the queue did not accept the events", {
        error: (error as Error).message,
        events: candidates.length,
      });
    }
    const queued: Candidate[] = [];
    const pending: Candidate[] = [];
    let duplicates = 0;
    candidates.forEach((candidate, i) => {
      if (claims[i] === CLAIMED) queued.push(candidate);
      else if (claims[i] === PENDING) pending.push(candidate);
      else {
        duplicates++;
        results[candidate.index] = { index: candidate.index, event_id: candidate.event.event_id, status: "duplicate" };
      }
    });
    return { queued, pending, duplicates };
  };

  return {
    async accept(raw: readonly unknown[]): Promise<ItemResult[]> {
      const now = options.now();
      checkCapacity(now);
      const validated = validate(raw, now);
      const { results, candidates } = validated;
      let duplicates = validated.duplicates;
      if (candidates.length === 0) {
        metrics.duplicates(duplicates);
        return results;
      }

      let committed: Candidate[] = [];
      let twoStep: Candidate[] = candidates;
      if (options.committer) {
        const outcome = await commit(options.committer, candidates, results);
        committed = outcome.queued;
        twoStep = outcome.pending;
        duplicates += outcome.duplicates;
      }

      const claims = twoStep.length > 0 ? await claimIds(twoStep) : [];
      const fresh: Candidate[] = [];
      for (let i = 0; i < twoStep.length; i++) {
        const candidate = twoStep[i] as Candidate;
        if (claims[i] === CLAIMED) fresh.push(candidate);
        else if (claims[i] === SEEN) {
          duplicates++;
          results[candidate.index] = {
            index: candidate.index,
            event_id: candidate.event.event_id,
            status: "duplicate",
          };
        }
      }
      if (claims.length !== twoStep.length || claims.includes(FAILED)) {
        await release(fresh.map((item) => item.slot));
        throw refuse("the dedupe check failed", { error: "Redis refused a SET" });
      }

      if (fresh.length > 0) await enqueue(fresh);
      for (const item of [...committed, ...fresh]) {
        results[item.index] = { index: item.index, event_id: item.event.event_id, status: "accepted" };
      }
      metrics.accepted(committed.length + fresh.length);
      metrics.duplicates(duplicates);
      return results;
    },
  };
}
export type Ingest = ReturnType<typeof createIngest>;
