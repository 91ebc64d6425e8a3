import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBatcher } from "../src/batcher.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A run that records each batch and holds it until released. */
function recorder() {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  const run = (items: number[]) =>
    new Promise<void>((resolve) => {
      batches.push(items);
      releases.push(resolve);
    });
  const releaseNext = () => releases.shift()?.();
  return { batches, run, releaseNext };
}

describe("worker batcher", () => {
  it("scores a submission at once when idle, and merges what arrives while a batch runs", async () => {
    const { batches, run, releaseNext } = recorder();
    const batcher = createBatcher(run, { maxItems: 100 });
    const first = batcher.submit([1]);
    await sleep(0);
    expect(batches).toEqual([[1]]);
    const second = batcher.submit([2, 3]);
    const third = batcher.submit([4]);
    releaseNext();
    await first;
    await sleep(0);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releaseNext();
    await Promise.all([second, third]);
    await batcher.idle();
  });

  it("keeps batches within maxItems, a larger single submission going alone", async () => {
    const { batches, run, releaseNext } = recorder();
    const batcher = createBatcher(run, { maxItems: 3 });
    const done = [batcher.submit([1]), batcher.submit([2, 3]), batcher.submit([4, 5, 6, 7]), batcher.submit([8])];
    for (let i = 0; i < 4; i += 1) {
      await sleep(0);
      releaseNext();
    }
    await Promise.all(done);
    expect(batches).toEqual([[1], [2, 3], [4, 5, 6, 7], [8]]);
  });

  it("rejects every submission of a failed batch, and goes on with the next", async () => {
    let calls = 0;
    const batcher = createBatcher(
      async (items: number[]) => {
        calls += 1;
        if (items.includes(2)) throw new Error("boom");
      },
      { maxItems: 10 },
    );
    const first = batcher.submit([1]);
    const second = batcher.submit([2]);
    const third = batcher.submit([3]);
    await expect(first).resolves.toBeUndefined();
    await expect(second).rejects.toThrow("boom");
    await expect(third).rejects.toThrow("boom");
    await expect(batcher.submit([4])).resolves.toBeUndefined();
    expect(calls).toBe(3);
  });

  describe("when submissions name groups", () => {
    it("takes the groups in turn, so one group's backlog does not fill the batches another waits behind", async () => {
      const { batches, run, releaseNext } = recorder();
      const batcher = createBatcher(run, { maxItems: 2 });
      const done = [batcher.submit([1], 0)];
      await sleep(0);
      // While the first batch runs, group 0 queues a backlog, then groups 1 and 2 one submission each.
      done.push(...[2, 3, 4, 5].map((item) => batcher.submit([item], 0)));
      done.push(batcher.submit([10], 1), batcher.submit([20], 2));
      for (let i = 0; i < 4; i += 1) {
        releaseNext();
        await sleep(0);
      }
      await Promise.all(done);
      expect(batches).toEqual([[1], [10, 20], [2, 3], [4, 5]]);
    });

    it("hands the run each group's items, in the order the groups were taken", async () => {
      const seen: [number, number[]][][] = [];
      const batcher = createBatcher(
        async (_items: number[], byGroup) => {
          seen.push([...byGroup]);
        },
        { maxItems: 100 },
      );
      const held = batcher.submit([1], 3);
      const done = [batcher.submit([2, 3], 5), batcher.submit([4], 3), batcher.submit([5], 0)];
      await Promise.all([held, ...done]);
      expect(seen).toEqual([
        [[3, [1]]],
        [
          [5, [2, 3]],
          [0, [5]],
          [3, [4]],
        ],
      ]);
    });
  });

  describe("lingering after a batch", () => {
    // The linger is a timer: these tests move a fake clock, so a loaded machine cannot stretch the waits they mean.
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);

    it("waits for the rest of a full batch rather than starting one with the first job handed over", async () => {
      const { batches, run, releaseNext } = recorder();
      const batcher = createBatcher(run, { maxItems: 100, fullAt: 3, lingerMs: 1_000 });
      const done = [batcher.submit([1]), batcher.submit([2])];
      await tick(0);
      releaseNext();
      // The queue hands over the next jobs one by one after the batch ends.
      await tick(5);
      done.push(batcher.submit([3]));
      await tick(5);
      expect(batches).toEqual([[1]]);
      done.push(batcher.submit([4]));
      await tick(0);
      expect(batches).toEqual([[1], [2, 3, 4]]);
      done.push(batcher.submit([5]));
      releaseNext();
      // Only one of three waits after this batch: the last one lingers its whole second before it runs.
      await tick(999);
      expect(batches).toEqual([[1], [2, 3, 4]]);
      await tick(1);
      expect(batches).toHaveLength(3);
      releaseNext();
      await Promise.all(done);
      expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    });

    it("stops lingering after lingerMs with what has arrived", async () => {
      const { batches, run, releaseNext } = recorder();
      const batcher = createBatcher(run, { maxItems: 100, fullAt: 10, lingerMs: 30 });
      const done = [batcher.submit([1]), batcher.submit([2])];
      await tick(0);
      releaseNext();
      await tick(29);
      expect(batches).toEqual([[1]]);
      await tick(1);
      expect(batches).toEqual([[1], [2]]);
      releaseNext();
      await Promise.all(done);
    });

    it("with firstLingerMs, gathers what arrives within it before a batch no batch preceded", async () => {
      const { batches, run, releaseNext } = recorder();
      const batcher = createBatcher(run, { maxItems: 100, fullAt: 10, lingerMs: 30, firstLingerMs: 5, parallel: 2 });
      const done = [batcher.submit([1], 0)];
      await tick(2);
      done.push(batcher.submit([2], 1), batcher.submit([3], 2));
      await tick(2);
      expect(batches).toEqual([]);
      await tick(1);
      expect(batches).toEqual([[1, 2, 3]]);
      // A second lane, started while the first runs, waits as long for its first batch.
      done.push(batcher.submit([4], 0));
      await tick(4);
      expect(batches).toHaveLength(1);
      await tick(1);
      expect(batches).toEqual([[1, 2, 3], [4]]);
      releaseNext();
      releaseNext();
      await Promise.all(done);
    });

    it("does not linger for the first submission after a quiet spell", async () => {
      const { batches, run, releaseNext } = recorder();
      const batcher = createBatcher(run, { maxItems: 100, fullAt: 10, lingerMs: 10_000 });
      const first = batcher.submit([1]);
      await tick(0);
      releaseNext();
      await first;
      await batcher.idle();
      const second = batcher.submit([2]);
      await tick(0);
      expect(batches).toEqual([[1], [2]]);
      releaseNext();
      await second;
    });
  });
});
