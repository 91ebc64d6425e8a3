// `npm run rebuild` over lead partitions (docs/partitions.md): each partition's live state is rebuilt in turn, under
// that partition's own rebuild lock (the one its worker takes when it finds the state missing), keeping its own leads;
// each partition's generation is set last by its own rebuild, so /readyz is ready once every partition's is current.
// Each partition's rebuild reads every stored event and keeps its own leads': P reads of the events collection.
import { liveKeys } from "@leadscore/live";
import { leadPartition, partitionPrefixes } from "@leadscore/runtime";
import { type RebuildOptions, type RebuildResult, rebuildLiveState, withRebuildLock } from "./rebuild.ts";

export interface PartitionsRebuildOptions extends Omit<RebuildOptions, "keys" | "owns" | "lock"> {
  redisPrefix: string;
  /** LEAD_PARTITIONS. */
  partitions: number;
}

/** What the rebuilds did, summed over the partitions. */
export type PartitionsRebuildResult = Omit<RebuildResult, "generation"> & { generations: string[] };

/**
 * Rebuilds every lead partition's live state; with one partition, the one rebuild under REDIS_PREFIX. Throws when
 * another process holds a partition's rebuild lock (the partitions before it stay rebuilt).
 */
export async function rebuildEveryPartition(options: PartitionsRebuildOptions): Promise<PartitionsRebuildResult> {
  const prefixes = partitionPrefixes(options.redisPrefix, options.partitions);
  const total: PartitionsRebuildResult = { generations: [], leads: 0, events: 0, pages: 0, ms: 0, switchMs: 0 };
  for (const [partition, prefix] of prefixes.entries()) {
    const keys = liveKeys(prefix);
    const owns =
      prefixes.length === 1 ? undefined : (leadId: string) => leadPartition(leadId, prefixes.length) === partition;
    const result = await withRebuildLock(options.redis, keys, (lock) =>
      rebuildLiveState({ ...options, keys, lock, ...(owns ? { owns } : {}) }),
    );
    if (result === null) throw new Error(`another process is rebuilding the live state (partition ${partition})`);
    total.generations.push(result.generation);
    total.leads += result.leads;
    total.events += result.events;
    total.pages += result.pages;
    total.ms += result.ms;
    total.switchMs = Math.max(total.switchMs, result.switchMs);
  }
  return total;
}
