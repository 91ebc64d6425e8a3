import type { QueuedEvent } from "@leadscore/contracts";
import { type DedupeSlot, redisScript, type ScriptClient } from "@leadscore/runtime";
import type { Queue } from "bull";
import { createBatcher, withDeadline } from "./batcher.ts";
import { CLAIMED, type Claim } from "./dedupe.ts";
import { EVENTS_JOB_OPTIONS, JOB_SPACED_BELOW, JOB_SPACING_MS } from "./enqueuer.ts";

/** The one-call claim and enqueue (see the script's header). */
const CLAIM_AND_QUEUE = redisScript<[number, ...Claim[]]>(new URL("./lua/claim-and-queue.lua", import.meta.url));

/** An event to queue, with the slot that claims its id. */
export interface Commit {
  slot: DedupeSlot;
  event: QueuedEvent;
}

export interface CommitterOptions {
  /** The queue's own client, as Bull's add used: a slow answer holds up jobs, not the other Redis reads. */
  redis: ScriptClient;
  /** The events queue, whose keys share the dedupe buckets' slot (both under REDIS_PREFIX). */
  queue: Queue;
  /** The de-duplication window, seconds. */
  ttlSeconds: number;
  /** A job leaves as soon as it holds this many events (one submission always travels in one job). */
  maxEvents?: number;
  maxInflight?: number;
  /** A call not answered within this time fails its requests (503); what it queued after all stays queued. */
  deadlineMs?: number;
  /** Called with each job's size and the seconds it took to be stored. */
  onStored?: (events: number, seconds: number) => void;
}

/**
 * De-duplicates and queues the events of concurrent requests in one script call per micro-batch, where the two-step
 * path (`createClaimer` then `createEnqueuer`) takes three: the claim, Bull's add and the confirmation. Only for one
 * lead partition: the dedupe buckets then share the queue's hash slot. Batches are gathered and spaced as the
 * enqueuer's jobs are, since each call that queues anything makes one job. `commit` resolves once the fresh events
 * are in Redis, with one claim per event: `CLAIMED` (queued by this call), `SEEN` or `PENDING`.
 */
export function createCommitter(options: CommitterOptions) {
  const { redis, queue } = options;
  const deadlineMs = options.deadlineMs ?? 2000;
  const queueKeys = ["wait", "paused", "meta-paused", "id"].map((name) => queue.toKey(name));
  // Bull announces a waiting job on a channel named by the queue's token (not in its type declarations).
  const token = (queue as unknown as { token?: unknown }).token;
  const head = [String(options.ttlSeconds), queue.toKey(""), typeof token === "string" ? token : ""];

  const batcher = createBatcher<Commit[], Claim[]>({
    maxSize: options.maxEvents ?? 500,
    maxInflight: options.maxInflight ?? 2,
    spacingMs: JOB_SPACING_MS,
    spacedBelow: JOB_SPACED_BELOW,
    size: (items) => items.length,
    async send(requests) {
      const items = requests.length === 1 && requests[0] ? requests[0] : requests.flat();
      const timestamp = Date.now();
      const keys: string[] = [...queueKeys];
      const args: string[] = [
        ...head,
        String(timestamp),
        JSON.stringify({ ...EVENTS_JOB_OPTIONS, delay: 0, timestamp }),
      ];
      for (const item of items) {
        keys.push(item.slot.key);
        args.push(item.slot.field, JSON.stringify(item.event));
      }
      const started = performance.now();
      const counted = (reply: [number, ...Claim[]]) => {
        const queued = reply.reduce<number>((sum, claim, i) => sum + (i > 0 && claim === CLAIMED ? 1 : 0), 0);
        if (queued > 0) options.onStored?.(queued, (performance.now() - started) / 1000);
      };
      // A reply after the deadline (its callers answered 503) still queued its events, marked seen: a retry is
      // answered as their duplicate, which it is. Undoing the job instead would race with that retry.
      const reply = await withDeadline(CLAIM_AND_QUEUE.run(redis, keys, args), deadlineMs, "Redis", counted);
      counted(reply);
      const claims = reply.slice(1) as Claim[];
      const results: Claim[][] = [];
      let offset = 0;
      for (const request of requests) {
        results.push(claims.slice(offset, offset + request.length));
        offset += request.length;
      }
      return results;
    },
  });
  return { commit: batcher.submit, flush: batcher.flush };
}
export type Committer = ReturnType<typeof createCommitter>;
