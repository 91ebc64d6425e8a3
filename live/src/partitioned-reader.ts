// Reads of a live state spread over lead partitions (docs/partitions.md): the same answers as one partition's reader
// gives for the same leads. A lead's own reads go to its partition; a list, the leaderboard and a rank merge the
// partitions' sorted sets, whose order `(value, id)` is total over all of them, so a page is a k-way merge of each
// partition's page after the same cursor and a cursor stays a global `(value, id)`; counts add up.
import type { LeaderboardEntry, Stage } from "@leadscore/contracts";
import { leadPartition, partitionPrefixes } from "@leadscore/runtime";
import type { LiveLead } from "./codec.ts";
import type { LiveKeys } from "./keys.ts";
import { mergePositions, type Position } from "./positions.ts";
import { createLiveReader, type ListQuery, type LiveReader, type LiveReaderOptions } from "./reader.ts";

export interface PartitionedReaderOptions extends LiveReaderOptions {
  /** LEAD_PARTITIONS. */
  partitions: number;
}

/** Whether a list in this order reads its index from the highest value down (`-score` reads rank keys upwards). */
function descending(sort: ListQuery["sort"]): boolean {
  return sort === "score" || sort === "-updated_at" || sort === "-last_event_at";
}

const pairs = (flat: string[]): Position[] => {
  const out: Position[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
};

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/**
 * A live reader over every lead partition; with one partition, the plain reader (the same keys, the same calls).
 * `keys` are partition 0's: a caller that writes or reads a lead's keys itself asks `keysFor(leadId)`.
 */
export function createPartitionedReader(options: PartitionedReaderOptions): LiveReader {
  if (options.partitions <= 1) return createLiveReader(options);
  const { redis } = options;
  const readers = partitionPrefixes(options.redisPrefix, options.partitions).map((redisPrefix) =>
    createLiveReader({ ...options, redisPrefix }),
  );
  const readerOf = (leadId: string) => readers[leadPartition(leadId, readers.length)] as LiveReader;
  const now = options.now ?? Date.now;

  /** Leads' summaries at one instant `at` (default: now) whichever partitions they sit in. */
  async function leads(ids: string[], at = now()): Promise<LiveLead[]> {
    const groups = new Map<LiveReader, string[]>();
    for (const id of ids) {
      const reader = readerOf(id);
      groups.set(reader, [...(groups.get(reader) ?? []), id]);
    }
    const found = new Map<string, LiveLead>();
    await Promise.all(
      [...groups].map(async ([reader, group]) => {
        for (const lead of await reader.leads(group, at)) found.set(lead.id, lead);
      }),
    );
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  /** The top `limit` ids of the leaderboard: each partition's top `limit`, merged. */
  async function top(limit: number): Promise<string[]> {
    const lists = await Promise.all(
      readers.map(async (reader) => pairs(await redis.zrange(reader.keys.byScore, 0, String(limit - 1), "WITHSCORES"))),
    );
    return mergePositions(lists, limit).map(([id]) => id);
  }

  const partitioned: LiveReader = {
    keys: readers[0]?.keys as LiveKeys,
    keysFor: (leadId: string) => readerOf(leadId).keys,
    lead: (leadId) => readerOf(leadId).lead(leadId),
    leads,
    leadWithTail: (leadId) => readerOf(leadId).leadWithTail(leadId),
    breakdown: (leadId) => readerOf(leadId).breakdown(leadId),
    snapshot: (leadId) => readerOf(leadId).snapshot(leadId),

    /** Leads before it in every partition: its own rank there, and elsewhere the leads below its value or tied with a smaller id. */
    async rank(leadId) {
      const own = readerOf(leadId);
      const [value, of] = await Promise.all([redis.zscore(own.keys.byScore, leadId), partitioned.count()]);
      if (value === null) return { rank: null, of };
      const before = await Promise.all(
        readers.map(async (reader) => {
          if (reader === own) return Number(await redis.zrank(reader.keys.byScore, leadId));
          const [below, tied] = await Promise.all([
            redis.zcount(reader.keys.byScore, "-inf", `(${value}`),
            redis.zrangebyscore(reader.keys.byScore, value, value),
          ]);
          return below + tied.filter((id) => id < leadId).length;
        }),
      );
      return { rank: sum(before) + 1, of };
    },

    async leaderboard(limit, at) {
      return leads(await top(limit), at);
    },

    async leaderboardEntries(limit): Promise<LeaderboardEntry[]> {
      return (await leads(await top(limit))).map((lead) => ({
        _id: lead.id,
        name: lead.name,
        company: lead.company,
        current_score: lead.score,
        stage: lead.stage,
      }));
    },

    async foldedEvents(include) {
      return sum(await Promise.all(readers.map((reader) => reader.foldedEvents(include))));
    },

    async count() {
      return sum(await Promise.all(readers.map((reader) => reader.count())));
    },

    async countByStage(t = now()) {
      const counts = await Promise.all(readers.map((reader) => reader.countByStage(t)));
      const total = { ...(counts[0] as Record<Stage, number>) };
      for (const more of counts.slice(1)) {
        for (const [stage, count] of Object.entries(more) as [Stage, number][]) total[stage] += count;
      }
      return total;
    },

    async histogram(width, t = now()) {
      const parts = await Promise.all(readers.map((reader) => reader.histogram(width, t)));
      return (parts[0] ?? []).map((bucket, index) => ({
        ...bucket,
        count: sum(parts.map((part) => part[index]?.count ?? 0)),
      }));
    },

    async listPositions(query) {
      const at = query.at ?? now();
      const parts = await Promise.all(readers.map((reader) => reader.listPositions({ ...query, at })));
      return {
        picked: mergePositions(
          parts.map((part) => part.picked),
          query.limit + 1,
          descending(query.sort),
        ),
        total: sum(parts.map((part) => part.total)),
      };
    },

    /** One instant for every partition: the ranges, the counts and the leads' scores and stages agree. */
    async list(query) {
      const t = query.at ?? now();
      const { picked, total } = await partitioned.listPositions({ ...query, at: t });
      const more = picked.length > query.limit;
      const page = more ? picked.slice(0, query.limit) : picked;
      const last = page.at(-1);
      return {
        leads: await leads(
          page.map(([id]) => id),
          t,
        ),
        total,
        next: more && last ? { id: last[0], value: last[1] } : null,
      };
    },
  };
  return partitioned;
}
