// Two opposite admin merges of the same two leads, each recorded in its own lead partition at the same moment (`a` into
// `b` in a's, `b` into `a` in b's): neither partition's identity map sees the other's, so each would hand its lead over
// to be imported where the other one's merge makes it a loop. One of the two wins — the one whose pair record MongoDB
// stored first — and the other is a no-op: the two leads end as one, the winner's root, with both histories.
import { COLLECTIONS, type IdentityDocument } from "@leadscore/contracts";
import {
  createLiveReader,
  type LiveEntry,
  type LiveKeys,
  liveKeys,
  resolveLead,
  waitingHandOffs,
  wholeHistory,
} from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { leadPartition } from "@leadscore/runtime";
import { describe, expect, it } from "vitest";
import { createDeepLane } from "../src/deep-lane.ts";
import { createMergeRecorder } from "../src/merge.ts";
import { createScorer } from "../src/scorer.ts";
import { CAP, FORM_RULES, formEvent, T0, THRESHOLDS, usePartitions, writerOf } from "./form-bed.ts";
import { useLiveBed } from "./live-bed.ts";

const GENERATION = "merge-opposite:test";

describe("two opposite admin merges of the same two leads in two partitions at the same moment", () => {
  const bed = useLiveBed("merge-opposite", GENERATION);
  const prefixes = usePartitions(bed, GENERATION, 2);
  const writer = writerOf(bed, GENERATION);

  it.each([1, 2, 3, 4, 5])("end as one lead, the winner's (run %i)", async (run) => {
    const a = `${run}-a`;
    let b = `${run}-b`;
    for (let n = 0; leadPartition(b, 2) === leadPartition(a, 2); n += 1) b = `${run}-b-${n}`;
    const layout = prefixes.map((prefix) => liveKeys(prefix));
    const partitionOf = (id: string) => leadPartition(id, 2);
    const keysFor = (id: string) => layout[partitionOf(id)] as LiveKeys;
    const owns = (p: number) => (id: string) => partitionOf(id) === p;
    for (const [id, eventId, minute] of [
      [a, `${run}-a1`, 1],
      [b, `${run}-b1`, 2],
    ] as const) {
      const scorer = createScorer({ ...writer(keysFor(id)), rules: () => FORM_RULES });
      await scorer.scoreBatch([formEvent(id, eventId, minute)]);
    }
    const recorderOf = (id: string) => createMergeRecorder({ ...writer(keysFor(id)), owns: owns(partitionOf(id)) });
    await Promise.all([
      recorderOf(a).apply([{ from: a, into: b, kind: "admin", at: T0 + 10 }]),
      recorderOf(b).apply([{ from: b, into: a, kind: "admin", at: T0 + 10 }]),
    ]);
    const lanes = layout.map((keys, p) => createDeepLane({ ...writer(keys), partitions: { owns: owns(p), keysFor } }));
    try {
      for (let pass = 0; ; pass += 1) {
        const left = await Promise.all(
          layout.map(
            async (keys) => (await bed.redis.hlen(keys.deep)) + (await waitingHandOffs(bed.redis, keys)).length,
          ),
        );
        if (left.every((count) => count === 0)) break;
        if (pass > 20) throw new Error(`the deep lanes did not empty in 20 passes: ${left.join(", ")} left`);
        for (const lane of lanes) await lane.runOnce();
      }
    } finally {
      for (const lane of lanes) await lane.stop();
    }

    const identities = await bed.db
      .collection<IdentityDocument>(COLLECTIONS.identities)
      .find({ _id: { $in: [a, b] } })
      .toArray();
    expect(identities).toHaveLength(1);
    const [{ _id: from, into } = { _id: "", into: "" }] = identities;
    expect(await resolveLead(bed.redis, keysFor(from), from)).toBe(into);
    expect(await resolveLead(bed.redis, keysFor(into), into)).toBe(into);
    const readerOf = (id: string) =>
      createLiveReader({
        redis: bed.redis,
        redisPrefix: prefixes[partitionOf(id)] as string,
        cap: CAP,
        thresholds: THRESHOLDS,
      });
    expect(await readerOf(from).lead(from)).toBeNull();
    const lead = await readerOf(into).leadWithTail(into);
    const history: LiveEntry[] = lead ? await wholeHistory(lead, loadPagesFrom(bed.db), CAP) : [];
    expect(history.map((entry) => [entry.event_id, entry.score])).toEqual([
      [`${run}-a1`, 40],
      [`${run}-b1`, 80],
    ]);
  });
});
