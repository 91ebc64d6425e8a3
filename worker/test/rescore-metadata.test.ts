// A retroactive publish whose rules read `metadata.*`: the live state keeps no metadata, so the re-score streams every
// stored event once with its metadata and matches each event again with it.
import type { QueuedEvent } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { publishRuleSet, readRuleSet } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  leadOf,
  queued,
  queuedRescore,
  rebuildOptionsOf,
  T0,
} from "../../test-support/worker-stack.ts";
import { createRescorer } from "../src/rescore.ts";

/** Lead i: i + 1 demo requests, every third from the "ads" channel, the others from "email". */
function history(): QueuedEvent[] {
  return Array.from({ length: 12 }, (_, i) =>
    Array.from({ length: i + 1 }, (_, n) =>
      queued(`lead-${i}`, `lead-${i}-${n}`, "demo_request", T0 + n * 60_000, {
        channel: n % 3 === 0 ? "ads" : "email",
      }),
    ),
  ).flat();
}

describe("when the version published retroactively reads event metadata", () => {
  it("matches every event again with its stored metadata", async () => {
    const stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      await stack.startWorker({ rescorePollMs: 600_000 });
      await stack.send(history());
      await stack.drained();
      const current = await readRuleSet(stack.db);
      const rules = current.rules.map((rule) =>
        rule.event_type === "demo_request"
          ? { ...rule, points: 70, where: { field: "metadata.channel", op: "eq" as const, value: "ads" } }
          : rule,
      );
      const store = { db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX };
      const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
      const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
      const generation = (await redis.get(liveKeys(stack.config.REDIS_PREFIX).gen)) as string;
      const rescorer = createRescorer({
        ...rebuildOptionsOf(stack, redis),
        prefix: stack.config.REDIS_PREFIX,
        generation: () => generation,
        encodeUpdates: () => new Map(),
        // Small chunks: the stream's leads are re-scored a few at a time, each with the metadata read beside it.
        chunk: 5,
      });
      const progress = await rescorer.run(
        queuedRescore("metadata", version),
        new AbortController().signal,
        async () => false,
      );
      expect(progress.leads_done).toBe(12);
      for (let i = 0; i < 12; i++) {
        const ads = Math.floor(i / 3) + 1;
        expect((await leadOf(stack, `lead-${i}`))?.current_score, `lead-${i}`).toBe(70 * ads);
        const entries = await historyOf(stack, `lead-${i}`);
        expect(entries.every((entry) => entry.rules_version === version)).toBe(true);
        expect(entries.filter((entry) => entry.points === 70)).toHaveLength(ads);
      }
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  }, 120_000);
});
