// The scoring worker: consumes the events queue and is the only writer of scores and history. Any number of these
// processes may run at once (Bull's competing consumers); their writes meet only at the live state's compare-and-set
// commit script in Redis.

import type { Server } from "node:http";
import {
  type MergeRequest,
  mongoDatabaseName,
  type QueuedEvent,
  realtimeChannelKey,
  type ScorePublisher,
  type ScoreUpdate,
  type WorkerConfig,
} from "@leadscore/contracts";
import { generationIsCurrent, liveKeys, StaleLiveStateError, shrinkIdleLeads } from "@leadscore/live";
import {
  consumedPartitions,
  countActivity,
  createMissingIndexes,
  createQueue,
  createQueuedCounts,
  createRedis,
  createScoringSettingsCache,
  EVENTS_JOB_OPTIONS,
  EVENTS_QUEUE,
  type EventsJob,
  type Logger,
  leadPartition,
  partitionPrefixes,
  type QueuedCounts,
  queuedEventsKey,
  RECONNECT,
} from "@leadscore/runtime";
import type Queue from "bull";
import { type Db, MongoClient } from "mongodb";
import { createBatcher } from "./batcher.ts";
import { catchUp } from "./catch-up.ts";
import { createDecayTicker, type DecayTicker } from "./decay-ticker.ts";
import { createDeepLane, type DeepLane } from "./deep-lane.ts";
import { PermanentJobError, parseEventsJob, rejectedReason } from "./job.ts";
import { createBatchJournal, JOURNAL_RETENTION_MS, sweepJournal } from "./journal.ts";
import { createMergeRecorder } from "./merge.ts";
import { createWorkerMetrics, serveMetrics, type WorkerMetrics } from "./metrics.ts";
import { createPageCache } from "./page-cache.ts";
import { RETIRED_SWEEP_MS, sweepRetiredPages } from "./page-garbage.ts";
import { createPartitionBatch, type PartitionBatchOptions, type PartitionScoring } from "./partition-batch.ts";
import { createPreviewRunner, type PreviewRunner } from "./preview.ts";
import { encodeLeadMerged, encodeScoreUpdates } from "./publisher.ts";
import { createQueueBacklogged, createQueueIdle } from "./queue-idle.ts";
import { ensureLiveState, type HeldLock, type RebuildOptions } from "./rebuild.ts";
import { rebuildInChild } from "./rebuild-child.ts";
import { releaseHeldJobs } from "./release-jobs.ts";
import { BACKLOG_MS, createRescoreRunner, type RescoreRunner } from "./rescore.ts";
import { createRulesCache, type RulesCache } from "./rules-cache.ts";
import { createRulesFence } from "./rules-fence.ts";
import { createScorer } from "./scorer.ts";

export interface WorkerOptions {
  /** Receives every committed score change, after its commit. The caller closes it after the worker. */
  publisher?: ScorePublisher;
  /** Most events scored in one batch (the jobs held at once are merged up to this). */
  maxBatchEvents?: number;
  /** Longest wait after a batch for the rest of the jobs in hand to arrive (see batcher.ts); 0 turns it off. */
  batchLingerMs?: number;
  /** Period of the safety-net rules reload. */
  rulesReloadMs?: number;
  /** Period of the summary log line; 0 turns it off. */
  summaryEveryMs?: number;
  /** Tries of a failing batch inside the process before its jobs fail back to the queue. */
  batchAttempts?: number;
  /** Pause of the deep lane between passes when it has nothing to do. */
  deepLaneIdleMs?: number;
  /** How often the worker looks for a queued preview of a draft rule set. */
  previewPollMs?: number;
  /** How often the worker looks for a re-score to run (rescore.ts). */
  rescorePollMs?: number;
}

export interface Worker {
  start(): Promise<void>;
  /** Stops taking jobs, finishes the ones in hand, then closes its clients. */
  close(): Promise<void>;
  readonly metrics: WorkerMetrics;
  readonly rules: RulesCache;
  /** The half-life in force (seconds), or null without decay: what the publisher's leaderboard reads decay with. */
  halfLife(): number | null;
  /** The database written (tests). */
  readonly db: Db;
  /** The deep lane of this process, once started (tests). */
  readonly deepLane: DeepLane | undefined;
  /** The port the metrics server listens on, once started (0 when off). */
  readonly metricsPort: number;
}

/** Most events one scoring batch merges from the jobs in hand, by default (an edge job holds far fewer). */
export const DEFAULT_SCORING_BATCH_EVENTS = 5_000;
/**
 * Batches a process scores at once: while one folds and commits (CPU), the other waits on the store's inserts (I/O).
 * Two batches may touch one lead; the compare-and-set commit keeps that exact, as between two processes.
 */
export const BATCHES_IN_FLIGHT = 2;
/** With several partitions, the wait before a batch no batch preceded, for the other partitions' jobs of one flush. */
const FIRST_LINGER_MS = 5;
/** How long a stopping worker goes on folding the leads its batches handed to the deep lane (deep-lane.ts `stop`). */
const DEEP_LANE_FINISH_MS = 5_000;
/** How often the worker looks whether the live state's generation is still the one it commits into. */
const GENERATION_CHECK_MS = 1_000;
/** How often a worker looks for leads that became idle (LIVE_IDLE_DAYS). */
const IDLE_SWEEP_MS = 60_000;

/** The generation of the live state this process commits into, kept current while it runs. */
interface LiveGeneration {
  current(): string;
  /** Looks again (rebuilding the live state when it is missing), once at a time; resolves when current. */
  recheck(): Promise<void>;
  stop(): void;
}

/**
 * Ensures the live state (rebuilding it when missing) and keeps its generation current: until checked again, a stale
 * generation only makes commits fail and wait, never fold wrongly.
 */
async function watchLiveGeneration(
  options: RebuildOptions & { queueIdle: () => Promise<boolean>; idleMs: number },
): Promise<LiveGeneration> {
  const { redis, keys, log } = options;
  let generation = await ensureLiveState(options);
  let checking: Promise<void> | undefined;
  const recheck = () => {
    checking ??= ensureLiveState(options)
      .then((current) => {
        generation = current;
      })
      .finally(() => {
        checking = undefined;
      });
    return checking;
  };
  // Live keys deleted while no batch commits would otherwise go unnoticed until the next commit: reads would find
  // nothing meanwhile. A look at the generation every second rebuilds them within a second, traffic or not. It also
  // looks at Redis's run id: after a restart the generation that came back still takes commits, so only this look (or
  // the connection's "ready", whose check may have failed while Redis was loading) starts the catch-up.
  const timer = setInterval(() => {
    Promise.all([redis.get(keys.gen), generationIsCurrent(redis, generation)])
      .then(([current, fresh]) => (current === generation && fresh ? undefined : recheck()))
      .catch((error: Error) => log.warn("live state check failed", { error: error.message }));
  }, GENERATION_CHECK_MS);
  timer.unref();
  // A Redis that restarted may have lost its last writes: the live state is rebuilt then (see rebuild.ts).
  redis.on("ready", () => {
    generationIsCurrent(redis, generation)
      .then((current) => (current ? undefined : recheck()))
      .catch((error: Error) => log.warn("live state check failed", { error: error.message }));
  });
  // Sweeps run only while the generation is current: a restart not caught up keeps its journal, and a rebuild under
  // way may name a retired page again.
  const sweepWhenCurrent = (what: string, sweep: () => Promise<number>) => () =>
    void generationIsCurrent(redis, generation)
      .then((current) => (current ? sweep() : 0))
      .catch((error: Error) => log.warn(`${what} sweep failed`, { error: error.message }));
  const sweepers = [
    setInterval(
      sweepWhenCurrent("journal", () => sweepJournal({ db: options.db, redis, keys: keys.journal })),
      JOURNAL_RETENTION_MS / 5,
    ),
    setInterval(
      // Only while no event waits, and for at most a second a turn: on the embedded store a delete, even by `_id`,
      // scans the collection and holds its one writer, so a sweep under traffic stalls every insert (measured with
      // the realistic rules: lag p50 0.38 s with the sweep waiting for an idle queue, 3.7–3.9 s without).
      sweepWhenCurrent("retired pages", async () =>
        (await options.queueIdle()) ? sweepRetiredPages({ db: options.db, redis, keys, budgetMs: 1000 }) : 0,
      ),
      RETIRED_SWEEP_MS,
    ),
    // Idle leads shed their history (live/src/idle.ts), half a second's work a turn. Unlike the page sweep it runs
    // under traffic too (it only inserts into MongoDB), or a busy deployment would never shed a lead.
    ...(options.idleMs > 0
      ? [
          setInterval(
            sweepWhenCurrent("idle leads", () =>
              shrinkIdleLeads({ db: options.db, redis, keys, idleMs: options.idleMs, budgetMs: 500 }),
            ),
            IDLE_SWEEP_MS,
          ),
        ]
      : []),
  ];
  for (const sweeper of sweepers) sweeper.unref();
  return {
    current: () => generation,
    recheck,
    stop: () => {
      clearInterval(timer);
      for (const sweeper of sweepers) clearInterval(sweeper);
    },
  };
}

/** Hands committed score changes to the publisher, if any; a failure there is logged, since the scores stand. */
function publisherOf(publisher: ScorePublisher | undefined, log: Logger) {
  return async (updates: ScoreUpdate[]) => {
    if (!publisher || updates.length === 0) return;
    try {
      await publisher.publish(updates);
    } catch (error) {
      // The scores are committed and their updates published; only the leaderboard refresh is late.
      log.warn("leaderboard publish failed", { error: (error as Error).message });
    }
  };
}

/** A lead partition's events queue (under `prefix`) as this worker consumes it, its finished jobs counted out (runtime/src/queued-counts.ts). */
function openEventsQueue(
  config: WorkerConfig,
  prefix: string,
  finished: QueuedCounts,
  log: Logger,
): Queue.Queue<EventsJob> {
  const queue = createQueue<EventsJob>(EVENTS_QUEUE, config, {
    prefix,
    redis: RECONNECT,
    settings: {
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.JOB_LOCK_MS,
      // A job stalls when the worker holding it dies or loses Redis past its lock. Bull's default fails it on
      // its second stall, yet its events were acknowledged and re-running it is harmless; only a job that keeps
      // killing its workers should end in the failed set.
      maxStalledCount: 10,
    },
  });
  queue.on("error", (error: Error) => log.warn("queue error", { error: error.message }));
  const eventsOf = (job: Queue.Job<EventsJob>) => (Array.isArray(job.data?.events) ? job.data.events.length : 0);
  // Events sent on from another partition were counted in that partition's activity already.
  queue.on("completed", (job: Queue.Job<EventsJob>) => finished.add(eventsOf(job), job.data?.forwarded !== true));
  // A failed attempt that will be retried is not finished: only a job moved to the failed set has `finishedOn`.
  queue.on("failed", (job: Queue.Job<EventsJob>) => {
    if (job.finishedOn) finished.add(eventsOf(job), false);
  });
  return queue;
}

/**
 * Handles one job: its well-formed events go to the batcher; a job that is not an events job at all, or that had
 * malformed events, is discarded (never retried) and fails with its reason once the rest are scored.
 */
function handleJob(
  submit: (events: QueuedEvent[]) => Promise<void>,
  metrics: WorkerMetrics,
  log: Logger,
  applyMerges: (merges: MergeRequest[]) => Promise<void>,
) {
  return async (job: Queue.Job<EventsJob>) => {
    let parsed: ReturnType<typeof parseEventsJob>;
    try {
      parsed = parseEventsJob(job.data);
    } catch (error) {
      metrics.recordJob("permanent");
      log.error("poison job", { job: job.id, reason: (error as Error).message });
      await job.discard();
      throw error;
    }
    try {
      if (parsed.merges.length > 0) await applyMerges(parsed.merges);
      if (parsed.events.length > 0) await submit(parsed.events);
    } catch (error) {
      metrics.recordJob("transient");
      log.error("job failed; the queue retries it", { job: job.id, error: (error as Error).message });
      throw error;
    }
    if (parsed.rejected.length > 0) {
      metrics.recordJob("permanent");
      const reason = rejectedReason(parsed.rejected, parsed.events.length + parsed.rejected.length);
      log.error("job had malformed events", { job: job.id, reason });
      await job.discard();
      throw new PermanentJobError(reason);
    }
    metrics.recordJob("completed");
  };
}

export async function createWorker(config: WorkerConfig, log: Logger, options: WorkerOptions = {}): Promise<Worker> {
  const mongo = new MongoClient(config.MONGO_URL);
  const db = mongo.db(mongoDatabaseName(config.MONGO_URL));
  const redis = createRedis(config, { lazyConnect: true, ...RECONNECT });
  redis.on("error", (error: Error) => log.warn("redis error", { error: error.message }));
  const subscriber = createRedis(config, { lazyConnect: true, ...RECONNECT });
  subscriber.on("error", (error: Error) => log.warn("redis subscriber error", { error: error.message }));
  const rules = createRulesCache({
    db,
    subscriber,
    redisPrefix: config.REDIS_PREFIX,
    log,
    reloadIntervalMs: options.rulesReloadMs,
  });
  const scoring = createScoringSettingsCache({
    db,
    // Copied into Redis for the realtime tier's snapshots, which decay with it and read no MongoDB.
    redis,
    subscriber,
    redisPrefix: config.REDIS_PREFIX,
    log,
    reloadIntervalMs: options.rulesReloadMs,
  });
  const metrics = createWorkerMetrics();
  const maxBatchEvents = options.maxBatchEvents ?? DEFAULT_SCORING_BATCH_EVENTS;
  const batchAttempts = options.batchAttempts ?? 3;
  const summaryEveryMs = options.summaryEveryMs ?? 10_000;

  let metricsServer: Server | undefined;
  let closing = false;
  let summaryTimer: NodeJS.Timeout | undefined;
  let metricsPort = 0;

  const logSummary = () => {
    const window = metrics.takeWindow();
    log.info("worker summary", {
      events_per_s: Math.round(window.eventsPerSecond),
      scored: window.scored,
      lag_p50_ms: window.lagP50Ms,
      lag_p99_ms: window.lagP99Ms,
      failed_jobs: window.failed,
    });
  };

  interface PartitionRun {
    prefix: string;
    live: LiveGeneration;
    deepLane: DeepLane;
    decayTicker: DecayTicker;
    previews?: PreviewRunner;
    rescores?: RescoreRunner;
    queue: Queue.Queue<EventsJob>;
    finished: QueuedCounts;
    scoring: PartitionScoring;
    applyMerges: (merges: MergeRequest[]) => Promise<void>;
  }
  const partitions: PartitionRun[] = [];
  // One for every partition this process consumes: a page's id names its content, and a merge across partitions
  // folds the merged lead's pages, written by its own partition, into its root's.
  const pageCache = createPageCache();
  // Every partition's queue this process sends events on to (those it consumes are the ones it reads).
  const sendQueues = new Map<string, Queue.Queue<EventsJob>>();
  const queueFor = (prefix: string) => {
    const consumed = partitions.find((part) => part.prefix === prefix)?.queue;
    if (consumed) return consumed;
    let queue = sendQueues.get(prefix);
    if (!queue) {
      queue = createQueue<EventsJob>(EVENTS_QUEUE, config, { prefix, redis: RECONNECT });
      queue.on("error", (error: Error) => log.warn("queue error", { error: error.message }));
      sendQueues.set(prefix, queue);
    }
    return queue;
  };
  /**
   * Sends events whose lead ids resolved to roots of other partitions on to those partitions' queues (scorer.ts),
   * counted into their queued events as the edge counts what it queues.
   */
  const forwardEvents = async (events: QueuedEvent[]) => {
    const prefixes = partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS);
    const byPrefix = new Map<string, QueuedEvent[]>();
    for (const event of events) {
      const prefix = prefixes[leadPartition(event.lead_id, prefixes.length)] as string;
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), event]);
    }
    await Promise.all(
      [...byPrefix].map(async ([prefix, batch]) => {
        await queueFor(prefix).add({ v: 1, events: batch, forwarded: true }, EVENTS_JOB_OPTIONS);
        await redis.incrby(queuedEventsKey(prefix), batch.length);
      }),
    );
    metrics.recordForwarded(events.length);
  };

  /** Scores one lead partition: its live state (`prefix`'s keys), its queue, its deep lane and decay ticker. */
  const startPartition = async (part: {
    prefix: string;
    owns?: (leadId: string) => boolean;
    /** Any lead's partition keys (merges across partitions hand a merged lead over to its root's). */
    keysFor: (leadId: string) => ReturnType<typeof liveKeys>;
    publish: (updates: ScoreUpdate[]) => Promise<void>;
    /** Every partition's prefix when this partition runs the deployment's previews (over all of them), else none. */
    previews?: readonly string[];
    /** Every partition's prefix when this partition runs the deployment's re-scores (over all of them), else none. */
    rescores?: readonly string[];
  }): Promise<PartitionRun> => {
    const { prefix, owns, publish } = part;
    // Finished jobs' events leave the queue's count, and the completed ones count as scored (`/api/stats`).
    const finished = createQueuedCounts(redis, prefix, log, {
      sign: -1,
      activity: "scored",
      activityPrefix: config.REDIS_PREFIX,
    });
    const keys = liveKeys(prefix);
    const thresholds = config.STAGE_THRESHOLDS;
    const shared = {
      db,
      redis,
      keys,
      cap: config.SCORE_CAP,
      thresholds,
      pageCache,
      encodeUpdates: (updates: ScoreUpdate[]) => encodeScoreUpdates(realtimeChannelKey(config.REDIS_PREFIX), updates),
      log,
      halfLife: scoring.halfLife,
    };
    // After a Redis restart that kept the live state: fold what it lost into the generation it kept.
    // Events of the batches in hand: each is committed by its batch's next try, or its job's.
    const inHand = new Set<string>();
    const catchUpInto = (kept: string, lock: HeldLock) => {
      const { scoreStored } = createScorer({ ...shared, generation: () => kept, rules: rules.current });
      return catchUp({ db, redis, keys, scoreStored, lock, owns, inHand: (id) => inHand.has(id) });
    };
    const progress = { running: false, eventsRead: 0, leadsWritten: 0 };
    metrics.watchRebuild(progress);
    const queueIdle = createQueueIdle(redis, prefix);
    // Each partition sheds its own idle leads (its own indexes).
    const idleMs = config.LIVE_IDLE_DAYS * 86_400_000;
    const generation = await watchLiveGeneration({
      ...shared,
      catchUp: catchUpInto,
      // A full rebuild runs in a child process, under its own heap settings (rebuild-child.ts).
      runRebuild: rebuildInChild(config, prefix),
      progress,
      queueIdle,
      owns,
      idleMs,
    });
    const writer = { ...shared, generation: generation.current };
    const journal = createBatchJournal({ db, redis, keys: keys.journal });
    const fence = createRulesFence({ redis, prefix: config.REDIS_PREFIX, rules });
    const forward = owns && { owns, send: forwardEvents };
    const scorer = createScorer({ ...writer, rules: rules.current, journal, fence, ...(forward && { forward }) });
    const deepLane = createDeepLane({
      ...writer,
      onCommitted: publish,
      onLags: (lagsMs) => metrics.recordLags(lagsMs),
      onStale: generation.recheck,
      // Not beside a catch-up or a rebuild: the catch-up's reads wait on the store behind the lane's scans.
      whenCurrent: () => generationIsCurrent(redis, generation.current()),
      idleMs: options.deepLaneIdleMs,
      encodeMerged: (from, into) => encodeLeadMerged(realtimeChannelKey(config.REDIS_PREFIX), from, into),
      onMerged: (merged) => log.info("leads merged", { merged }),
      ...(owns && { partitions: { owns, keysFor: part.keysFor } }),
    });
    const mergeRecorder = createMergeRecorder({ db, redis, keys, generation: generation.current, log, owns });
    // A merge recorded while the live state is rebuilt waits for it, as a batch does.
    const applyMerges = async (merges: MergeRequest[]) => {
      for (;;) {
        try {
          return await mergeRecorder.apply(merges);
        } catch (error) {
          if (!(error instanceof StaleLiveStateError)) throw error;
          await generation.recheck();
        }
      }
    };
    metrics.watchDeepLane(deepLane.stats);
    deepLane.start();
    const decayTicker = createDecayTicker(shared);
    decayTicker.start();
    // A preview is one per deployment too (the re-score lock): it reads every partition's live state.
    const previews = part.previews
      ? createPreviewRunner({
          ...writer,
          partitions: part.previews.map((each) => liveKeys(each)),
          prefix: config.REDIS_PREFIX,
          pollMs: options.previewPollMs,
        })
      : undefined;
    previews?.start();
    // A re-score job is one per deployment (its run lock): it walks every partition, committing each lead in its own;
    // a partition this process does not consume commits into the generation its key names.
    const rescores = part.rescores
      ? createRescoreRunner({
          ...writer,
          layouts: part.rescores.map((each) => {
            if (each === prefix) return { keys, generation: generation.current };
            const other = liveKeys(each);
            return { keys: other, generation: async () => (await redis.get(other.gen)) ?? "" };
          }),
          prefix: config.REDIS_PREFIX,
          onCommitted: publish,
          pollMs: options.rescorePollMs,
          queueBacklogged: createQueueBacklogged(redis, part.rescores, BACKLOG_MS),
        })
      : undefined;
    if (rescores) {
      metrics.watchRescore(rescores.stats);
      rescores.start();
    }

    const queue = openEventsQueue(config, prefix, finished, log);
    await queue.isReady();
    const consumer = { scorer, journal, recheck: generation.recheck, inHand, fence };
    return {
      prefix,
      live: generation,
      deepLane,
      decayTicker,
      previews,
      rescores,
      queue,
      finished,
      scoring: consumer,
      applyMerges,
    };
  };

  /**
   * One batcher takes the jobs of every partition consumed, a partition at a time in turn, into batches that cost one
   * MongoDB write whatever the partitions in them (partition-batch.ts); each partition's queue has its own share of
   * the fetch slots, so one partition's backlog never takes another's turns (docs/partitions.md).
   */
  const consumeQueues = (batch: Pick<PartitionBatchOptions, "publish" | "onDeadLettered">) => {
    const concurrency = Math.max(1, Math.ceil(config.WORKER_CONCURRENCY / partitions.length));
    const run = createPartitionBatch({
      ...batch,
      db,
      partitions: partitions.map((part) => part.scoring),
      metrics,
      attempts: batchAttempts,
      log,
    });
    const batcher = createBatcher(run, {
      maxItems: maxBatchEvents,
      fullAt: concurrency * partitions.length,
      lingerMs: options.batchLingerMs ?? 10,
      // One edge flush queues a job on each partition present: gather them into one batch.
      firstLingerMs: partitions.length > 1 ? FIRST_LINGER_MS : 0,
      parallel: BATCHES_IN_FLIGHT,
    });
    for (const [n, part] of partitions.entries()) {
      const submit = (events: QueuedEvent[]) => batcher.submit(events, n);
      // Each batch holds up to `concurrency` jobs of a partition, and BATCHES_IN_FLIGHT run at once.
      // Bull's promise of the processing settles only as the queue closes; one closed before its blocking connection
      // was ready rejects with no reason (bull's isRedisReady), which is no failure then.
      part.queue
        .process(concurrency * BATCHES_IN_FLIGHT, handleJob(submit, metrics, log, part.applyMerges))
        .catch((error: unknown) => {
          if (!closing) log.error("queue processing stopped", { error: (error as Error | undefined)?.message });
        });
    }
  };

  return {
    metrics,
    rules,
    db,
    halfLife: scoring.halfLife,
    get deepLane() {
      return partitions[0]?.deepLane;
    },
    get metricsPort() {
      return metricsPort;
    },
    async start() {
      await mongo.connect();
      await redis.connect();
      await subscriber.connect();
      await createMissingIndexes(db, log);
      await rules.start();
      await scoring.start();
      const publish = publisherOf(options.publisher, log);
      // Dead letters count in the 24-hour activity `/api/stats` reads (the dashboard's headline shows them).
      const onDeadLettered = (events: number) =>
        void countActivity(redis, config.REDIS_PREFIX, "dead_lettered", events, Date.now()).catch((error: Error) =>
          log.warn("could not count dead letters", { error: error.message }),
        );
      const prefixes = partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS);
      const consumed = consumedPartitions(prefixes.length, config.LEAD_PARTITIONS_CONSUMED);
      for (const [n, partition] of consumed.entries()) {
        const prefix = prefixes[partition] as string;
        const owns =
          prefixes.length === 1 ? undefined : (leadId: string) => leadPartition(leadId, prefixes.length) === partition;
        const started = await startPartition({
          prefix,
          owns,
          keysFor: (leadId) => liveKeys(prefixes[leadPartition(leadId, prefixes.length)] as string),
          publish,
          previews: n === 0 ? prefixes : undefined,
          rescores: n === 0 ? prefixes : undefined,
        });
        partitions.push(started);
      }
      consumeQueues({ publish, onDeadLettered });

      if (config.METRICS_PORT !== undefined) {
        metricsServer = await serveMetrics(metrics, config.METRICS_PORT, log);
        const address = metricsServer.address();
        metricsPort = typeof address === "object" && address ? address.port : config.METRICS_PORT;
      }
      if (summaryEveryMs > 0) {
        summaryTimer = setInterval(logSummary, summaryEveryMs);
        summaryTimer.unref();
      }
    },
    async close() {
      closing = true;
      clearInterval(summaryTimer);
      for (const part of partitions) part.live.stop();
      // Bull's close waits for the jobs in hand, which wait for their batch to be written and published.
      await Promise.all(partitions.map((part) => part.queue.close()));
      await Promise.all([...sendQueues.values()].map((queue) => queue.close()));
      await Promise.all(partitions.map((part) => part.finished.flush()));
      for (const part of partitions) {
        // Bull keeps its lock token out of its types.
        const token = (part.queue as unknown as { token: string }).token;
        const released = await releaseHeldJobs(redis, part.prefix, token);
        if (released > 0) log.info("handed back jobs fetched while closing", { jobs: released });
      }
      // The partitions' lanes finish side by side: a stop waits for the slowest, not for their sum.
      await Promise.all(partitions.map((part) => part.deepLane.stop({ finishWithinMs: DEEP_LANE_FINISH_MS })));
      for (const part of partitions) {
        await part.decayTicker.stop();
        await part.previews?.stop();
        await part.rescores?.stop();
      }
      await rules.close();
      scoring.close();
      await new Promise<void>((resolve) => (metricsServer ? metricsServer.close(() => resolve()) : resolve()));
      subscriber.disconnect();
      redis.disconnect();
      await mongo.close();
      if (summaryEveryMs > 0) logSummary();
    },
  };
}
