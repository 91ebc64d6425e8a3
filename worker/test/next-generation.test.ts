import { randomUUID } from "node:crypto";
import { COLLECTIONS, type ProfileEditDocument, stageFor } from "@leadscore/contracts";
import { createLiveReader, generationIsCurrent, leadHashField, liveKeys, rankKey, setProfile } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { auditAll, createStack, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { type RebuildProgress, rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

let stack: TestStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe("when the live state is rebuilt while a previous generation exists", () => {
  it("keeps answering reads from the previous generation until it switches, then from the fold and the newest profiles", async () => {
    stack = await createStack();
    const worker = await stack.startWorker();
    const leads = Array.from({ length: 30 }, (_, i) => `gen${i}`);
    await stack.send(leads.map((lead, i) => queued(lead, `g${i}`, i % 2 ? "purchase" : "page_view", T0 + i)));
    await stack.drained();
    await worker.close();
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const { cap, thresholds } = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
      const reader = createLiveReader({ redis, redisPrefix: stack.config.REDIS_PREFIX, cap, thresholds });
      const page = async () => (await reader.list({ sort: "-score", limit: 100 })).leads.map((l) => [l.id, l.score]);
      const folded = await page();
      // A mark only the previous generation carries: a read that shows it was answered by that generation.
      await redis.hset(keys.lead("gen0"), leadHashField("score"), "7");
      const previous = await page();
      expect(previous).not.toEqual(folded);

      const progress: RebuildProgress = { running: false, eventsRead: 0, leadsWritten: 0 };
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let paused = () => {};
      const pausedOnce = new Promise<void>((resolve) => {
        paused = resolve;
      });
      const rebuilt = withRebuildLock(redis, keys, (held) =>
        rebuildLiveState({
          db: stack?.db as TestStack["db"],
          redis,
          keys,
          cap,
          thresholds,
          log: silentLogger,
          progress,
          // Holds the rebuild once every lead is written to the next generation, before it switches.
          lock: {
            signal: held.signal,
            async check() {
              if (progress.leadsWritten === leads.length) {
                paused();
                await released;
              }
              await held.check();
            },
          },
        }),
      );
      await pausedOnce;
      // A profile edit while it runs, as the API makes one: into MongoDB, then into the live state answering reads.
      const profile = { name: "Edited While Rebuilt", email: null, company: "Acme" };
      await stack.db
        .collection<ProfileEditDocument>(COLLECTIONS.profileEdits)
        .insertOne({ _id: randomUUID(), lead_id: "gen1", ...profile, at: new Date() });
      await setProfile(redis, keys, "gen1", profile, Date.now(), {
        rankKey: rankKey(0, null, cap),
        stage: stageFor(0, thresholds),
      });
      expect(progress.running).toBe(true);
      expect(await redis.exists(keys.next().lead("gen0"))).toBe(1);
      expect(await generationIsCurrent(redis, await redis.get(keys.gen))).toBe(false);
      expect(await page()).toEqual(previous);
      expect(await reader.lead("gen0")).toMatchObject({ score: 7 });
      release();
      await rebuilt;

      expect(await generationIsCurrent(redis, await redis.get(keys.gen))).toBe(true);
      expect(await page()).toEqual(folded);
      // The edit outlives the switch that dropped the generation it was written to.
      expect(await reader.lead("gen1")).toMatchObject({ name: profile.name, company: profile.company });
      expect(await auditAll(stack)).toEqual([]);
      const leftover: string[] = [];
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", keys.next().pattern, "COUNT", 1000);
        cursor = next;
        leftover.push(...found);
      } while (cursor !== "0");
      expect(leftover).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
