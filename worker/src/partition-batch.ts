// Scores one batch that holds the events of several lead partitions (docs/partitions.md): a worker consuming several
// partitions batches them together, so under a trickle of events it pays one batch's MongoDB writes where each
// partition batching on its own paid one per partition — on the embedded store, whose one writer serializes every
// insert, that was what made the lag of six partitions many times that of one.
//
// A try of the batch journals it once (one entry naming every event: each partition's catch-up looks only at its own
// leads' events), stores every partition's events with one insert, then plans and commits each partition's leads in
// its own slot, in parallel, and marks the entry done in each partition once that partition's commits returned. Every
// write is idempotent, so a try that failed anywhere runs again whole: a partition that had committed finds its
// events folded. A partition whose live state went stale waits for it, which costs the batch no try.
import { COLLECTIONS, type EventDocument, type QueuedEvent, type ScoreUpdate } from "@leadscore/contracts";
import { StaleLiveStateError } from "@leadscore/live";
import type { Logger } from "@leadscore/runtime";
import type { Db } from "mongodb";
import type { BatchJournal } from "./journal.ts";
import type { WorkerMetrics } from "./metrics.ts";
import type { RuleMatcher } from "./rules-cache.ts";
import type { RulesFence } from "./rules-fence.ts";
import { type BatchResult, emptyResult, type PreparedEvents, type Scorer, type StoredMemo } from "./scorer.ts";
import { type InsertOutcome, insertReporting } from "./store.ts";

/** What the batch needs of each partition the process consumes. */
export interface PartitionScoring {
  /** The partition's scorer (its live keys and generation). */
  scorer: Scorer;
  journal: BatchJournal;
  /** Waits for the partition's live state after a commit found its generation stale. */
  recheck(): Promise<void>;
  /** Ids of the partition's events in a batch in hand (its catch-up leaves them to their batch). */
  inHand: Set<string>;
  /** The deployment's fence between batches and a re-score (rules-fence.ts): one ticket covers a batch's partitions. */
  fence?: RulesFence;
}

export interface PartitionBatchOptions {
  db: Db;
  /** By the batcher's group: the index of the partition among those consumed. */
  partitions: readonly PartitionScoring[];
  metrics: WorkerMetrics;
  publish(updates: ScoreUpdate[]): Promise<void>;
  /** Tries of a failing batch inside the process before its jobs fail back to the queue. */
  attempts: number;
  /** Told how many events a batch newly moved to dead letters. */
  onDeadLettered(events: number): void;
  log: Logger;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The share of an insert's outcome of the documents `from … from + count − 1`, indexed from 0. */
function outcomeSlice(outcome: InsertOutcome, from: number, count: number): InsertOutcome {
  const within = (index: number) => index >= from && index < from + count;
  return {
    existing: new Set([...outcome.existing].filter(within).map((index) => index - from)),
    refused: new Map([...outcome.refused].filter(([index]) => within(index)).map(([i, why]) => [i - from, why])),
  };
}

/** The results of a batch's partitions as one. */
function summed(results: readonly BatchResult[]): BatchResult {
  const total = emptyResult();
  for (const result of results) {
    total.updates.push(...result.updates);
    total.stored += result.stored;
    total.duplicates += result.duplicates;
    total.deadLettered += result.deadLettered;
    total.late += result.late;
    total.retries += result.retries;
    total.diverted.pages += result.diverted.pages;
    total.diverted.rescan += result.diverted.rescan;
    total.lagsMs.push(...result.lagsMs);
  }
  return total;
}

/**
 * The batcher's run over partitions: scores a batch given its events by partition, trying it again inside the process
 * up to `attempts` times, and waiting for a partition's live state whenever it is being rebuilt.
 */
export function createPartitionBatch(options: PartitionBatchOptions) {
  const { partitions, metrics, log } = options;
  const events = options.db.collection<EventDocument>(COLLECTIONS.events);

  /** One try: one journal entry, one insert, then each partition's plan and commits. */
  async function scoreOnce(parts: [PartitionScoring, QueuedEvent[]][], memo: StoredMemo): Promise<BatchResult> {
    const all = parts.flatMap(([, batch]) => batch);
    const [first] = parts[0] as [PartitionScoring, QueuedEvent[]];
    const ticket = await first.fence?.enter();
    try {
      return await scoreEntered(parts, all, first, memo, ticket?.rules);
    } finally {
      await ticket?.leave();
    }
  }

  async function scoreEntered(
    parts: [PartitionScoring, QueuedEvent[]][],
    all: QueuedEvent[],
    first: PartitionScoring,
    memo: StoredMemo,
    rules: RuleMatcher | undefined,
  ): Promise<BatchResult> {
    const entry = await first.journal.open(all);
    const prepared: PreparedEvents[] = await Promise.all(
      parts.map(([part, batch]) => part.scorer.prepareEvents(batch, rules)),
    );
    const outcome = await insertReporting(
      events,
      prepared.flatMap((each) => each.docs),
    );
    let from = 0;
    const results = await Promise.allSettled(
      parts.map(([part], index) => {
        const mine = prepared[index] as PreparedEvents;
        const inserted = outcomeSlice(outcome, from, mine.docs.length);
        from += mine.docs.length;
        return part.scorer.scoreInserted(mine, inserted, memo).then(async (result) => {
          await part.journal.done(entry);
          return result;
        });
      }),
    );
    const stale = parts.filter((_, index) => {
      const result = results[index];
      return result?.status === "rejected" && result.reason instanceof StaleLiveStateError;
    });
    if (stale.length > 0) throw new StalePartitions(stale.map(([part]) => part));
    const failed = results.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    return summed(results.map((result) => (result as PromiseFulfilledResult<BatchResult>).value));
  }

  return async (_items: QueuedEvent[], byPartition: ReadonlyMap<number, QueuedEvent[]>): Promise<void> => {
    const parts = [...byPartition].map(([index, batch]): [PartitionScoring, QueuedEvent[]] => {
      const part = partitions[index];
      if (!part) throw new Error(`no partition ${index} among those consumed`);
      return [part, batch];
    });
    if (parts.length === 0) return;
    const memo: StoredMemo = new Set();
    for (const [part, batch] of parts) for (const event of batch) part.inHand.add(event.event_id);
    try {
      for (let attempt = 1; ; attempt += 1) {
        const started = performance.now();
        try {
          const result = await scoreOnce(parts, memo);
          metrics.recordBatch(result, performance.now() - started);
          if (result.deadLettered > 0) options.onDeadLettered(result.deadLettered);
          await options.publish(result.updates);
          return;
        } catch (error) {
          if (error instanceof StalePartitions) {
            // A partition's live state is being rebuilt (or was wiped): wait for it, then plan the batch again.
            log.info("live state stale; waiting for it before scoring again");
            await Promise.all(error.partitions.map((part) => part.recheck()));
            attempt -= 1;
            continue;
          }
          // Every write is idempotent, so the whole batch can simply run again.
          if (attempt >= options.attempts) throw error;
          log.warn("scoring batch failed; retrying", { attempt, error: (error as Error).message });
          await sleep(100 * 4 ** (attempt - 1));
        }
      }
    } finally {
      for (const [part, batch] of parts) for (const event of batch) part.inHand.delete(event.event_id);
    }
  };
}

/** Partitions whose live state's generation a commit found stale. */
class StalePartitions extends Error {
  constructor(readonly partitions: PartitionScoring[]) {
    super("live state stale");
  }
}
