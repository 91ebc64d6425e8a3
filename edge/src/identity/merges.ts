// Identify and admin merges at the edge: the guards, read from the live identity map and the lead's hash, then the
// merge request queued on the events queue (a 2xx only once Bull has stored it). The worker records and folds it
// (worker/src/merge.ts); see docs/identity.md.
import { isPlaceholderId, LeadIdSchema, type MergeKind, type MergeRequest } from "@leadscore/contracts";
import { type LiveKeys, type LiveReader, liveKeys, resolveLead } from "@leadscore/live";
import { type EventsJob, leadPartition } from "@leadscore/runtime";
import type { Queue } from "bull";
import type { Redis } from "ioredis";
import type { AppDeps } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { withDeadline } from "../ingest/batcher.ts";
import { EVENTS_JOB_OPTIONS } from "../ingest/enqueuer.ts";

/** What the guards read about the two ids. */
export interface MergeState {
  /** The root `from` already resolves to, or null when it was never merged. */
  fromRoot: string | null;
  /** The root `into` resolves to (itself when it was never merged). */
  intoRoot: string;
  /** Other ids were merged into `from`: it is an identified lead. */
  fromIsTarget: boolean;
  /** `from` has a profile (name, email or company): a known lead. */
  fromHasProfile: boolean;
  /** `from` has live state or was merged before (admin merges name existing leads only). */
  fromExists: boolean;
  /** `into` has live state. */
  intoExists: boolean;
}

export type MergeVerdict =
  | { kind: "merge"; into: string }
  | { kind: "already"; into: string }
  | { kind: "refused"; error: ApiError };

const refused = (error: ApiError): MergeVerdict => ({ kind: "refused", error });
const invalid = (path: string, message: string) =>
  refused(new ApiError("VALIDATION_FAILED", `${path} ${message}`, [{ path, message }]));

/**
 * The ids' shape, with no state: both well-formed ids, neither a placeholder, not the same. Null when they pass.
 */
export function checkIds(
  fromPath: string,
  from: unknown,
  intoPath: string,
  into: unknown,
  placeholders: readonly string[],
): MergeVerdict | null {
  for (const [path, id] of [
    [fromPath, from],
    [intoPath, into],
  ] as const) {
    if (isPlaceholderId(id, placeholders)) return invalid(path, "is a placeholder, not an identity");
    const parsed = LeadIdSchema.safeParse(id);
    if (!parsed.success) return invalid(path, parsed.error.issues[0]?.message ?? "is not a lead id");
  }
  if (from === into) return invalid(intoPath, `must differ from ${fromPath}`);
  return null;
}

/**
 * The guards of a merge of `from` into `into` (ids already checked): a merged id answers "already" when it resolves
 * to the same root, 409 otherwise; a merge that would make `into` resolve to itself is a loop. With the write key
 * (`identify`) only an anonymous id may be merged — never the target of a merge, without a profile; the admin token
 * (`admin`) merges known leads, both of which must exist.
 */
export function judgeMerge(kind: MergeKind, from: string, state: MergeState): MergeVerdict {
  const into = state.intoRoot;
  if (state.fromRoot !== null) {
    if (state.fromRoot === into) return { kind: "already", into };
    return refused(new ApiError("CONFLICT", `${from} was already merged into ${state.fromRoot}`));
  }
  if (into === from) return refused(new ApiError("CONFLICT", `the lead resolves to ${from}: the merge would loop`));
  if (kind === "identify") {
    if (state.fromIsTarget) {
      return refused(
        new ApiError(
          "CONFLICT",
          `${from} is an identified lead (others were merged into it); merging it takes the admin token`,
        ),
      );
    }
    if (state.fromHasProfile) {
      return refused(
        new ApiError("CONFLICT", `${from} has a profile: it is a known lead; merging it takes the admin token`),
      );
    }
    return { kind: "merge", into };
  }
  if (!state.fromExists) return refused(new ApiError("NOT_FOUND", `no lead ${from}`));
  if (!state.intoExists) return refused(new ApiError("NOT_FOUND", `no lead ${into}`));
  return { kind: "merge", into };
}

export interface MergesDeps {
  redis: Redis;
  live: LiveReader;
  queue: Queue;
  /** Each lead partition's queue (absent: `[queue]`): a merge goes to its leads' partition. */
  partitionQueues?: Queue[];
  redisPrefix: string;
  placeholders: readonly string[];
  now: () => number;
  deadlineMs?: number;
}

export interface MergeAnswer {
  /** 202: queued; 200: the id already resolves to that lead. */
  status: 200 | 202;
  from: string;
  into: string;
}

export function createMerges(deps: MergesDeps) {
  const queues = deps.partitionQueues ?? [deps.queue];
  // Each lead's identity keys are its partition's (one partition: `liveKeys(REDIS_PREFIX)`).
  const keysOf = (id: string): LiveKeys => (queues.length === 1 ? liveKeys(deps.redisPrefix) : deps.live.keysFor(id));

  async function stateOf(from: string, into: string): Promise<MergeState> {
    const [fromRoot, intoRoot, targets, lead, intoLead] = await Promise.all([
      deps.redis.hget(keysOf(from).aliases, from),
      deps.redis.hget(keysOf(into).aliases, into),
      deps.redis.scard(keysOf(from).aliasesOf(from)),
      deps.live.lead(from),
      resolveLead(deps.redis, keysOf(into), into).then((root) => deps.live.lead(root)),
    ]);
    return {
      fromRoot: fromRoot ?? null,
      intoRoot: intoRoot ?? into,
      fromIsTarget: targets > 0,
      fromHasProfile: lead !== null && (lead.name !== null || lead.email !== null || lead.company !== null),
      fromExists: lead !== null,
      intoExists: intoLead !== null,
    };
  }

  async function enqueue(request: MergeRequest): Promise<void> {
    const job: EventsJob = { v: 1, events: [], merges: [request] };
    // The merged id's partition records the merge: its later events reach that partition, whose worker sends them on
    // to the root's (one partition: the one queue). Across partitions its deep lane hands the merged lead over to the
    // root's partition, which folds it (docs/identity.md).
    const partition = leadPartition(request.from, queues.length);
    try {
      await withDeadline(
        (queues[partition] as Queue).add(job, EVENTS_JOB_OPTIONS),
        deps.deadlineMs ?? 2000,
        "the queue",
      );
    } catch {
      // Not queued (Redis away, or too slow to confirm): no 2xx for it.
      throw new ApiError("SERVICE_UNAVAILABLE", "the queue cannot take the merge now; try again", [], {
        "Retry-After": "1",
      });
    }
  }

  /** Guards and queues one merge; throws the refusal as an ApiError. */
  async function merge(
    kind: MergeKind,
    paths: [string, string],
    from: unknown,
    into: unknown,
    reason?: string,
  ): Promise<MergeAnswer> {
    const shape = checkIds(paths[0], from, paths[1], into, deps.placeholders);
    if (shape?.kind === "refused") throw shape.error;
    const ids = { from: from as string, into: into as string };
    const verdict = judgeMerge(kind, ids.from, await stateOf(ids.from, ids.into));
    if (verdict.kind === "refused") throw verdict.error;
    if (verdict.kind === "already") return { status: 200, from: ids.from, into: verdict.into };
    await enqueue({ from: ids.from, into: verdict.into, kind, at: deps.now(), ...(reason && { reason }) });
    return { status: 202, from: ids.from, into: verdict.into };
  }

  return {
    /** An identify (write key): `anonymous_id` into `lead_id`. */
    identify: (anonymousId: unknown, leadId: unknown) =>
      merge("identify", ["anonymous_id", "lead_id"], anonymousId, leadId),
    /** An admin merge: `from` into the lead `into`, with the reason kept in its record. */
    adminMerge: (into: string, from: unknown, reason: string) => merge("admin", ["from", "id"], from, into, reason),
  };
}
export type Merges = ReturnType<typeof createMerges>;

/** The merges of an edge app, from its deps. */
export function mergesOf(
  deps: Pick<AppDeps, "redis" | "live" | "queue" | "partitionQueues" | "config" | "now">,
): Merges {
  return createMerges({
    redis: deps.redis,
    live: deps.live,
    queue: deps.queue,
    partitionQueues: deps.partitionQueues,
    redisPrefix: deps.config.REDIS_PREFIX,
    placeholders: deps.config.PLACEHOLDER_IDS,
    now: deps.now ?? Date.now,
  });
}
