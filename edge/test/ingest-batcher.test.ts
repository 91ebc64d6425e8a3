import { afterEach, describe, expect, it, vi } from "vitest";
import { createBatcher, DeadlineError, withDeadline } from "../src/ingest/batcher.ts";

/** A send whose round trips the test answers by hand. */
function manualSend() {
  const calls: { items: number[]; answer(): void; fail(error: Error): void }[] = [];
  const send = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ items, answer: () => resolve(items.map((item) => item * 10)), fail: reject });
    });
  return { calls, send };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("the batcher", () => {
  it("sends the items of one turn of the event loop together and answers each with its own result", async () => {
    const { calls, send } = manualSend();
    const batcher = createBatcher({ send, size: () => 1, maxSize: 100, maxInflight: 1 });
    const results = Promise.all([batcher.submit(1), batcher.submit(2), batcher.submit(3)]);
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[1, 2, 3]]);
    calls[0]?.answer();
    expect(await results).toEqual([10, 20, 30]);
  });

  it("holds new items while maxInflight batches are out and sends them together when one is answered", async () => {
    const { calls, send } = manualSend();
    const batcher = createBatcher({ send, size: () => 1, maxSize: 100, maxInflight: 1 });
    const first = batcher.submit(1);
    await tick();
    const later = [batcher.submit(2), batcher.submit(3)];
    await tick();
    const more = batcher.submit(4);
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[1]]);
    calls[0]?.answer();
    await first;
    await tick();
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]?.answer();
    expect(await Promise.all([...later, more])).toEqual([20, 30, 40]);
  });

  describe("with a spacing", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("under steady traffic sends the items of the spacing together; after a quiet spell, at once", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "queueMicrotask", "performance"] });
      const { calls, send } = manualSend();
      const batcher = createBatcher({ send, size: () => 1, maxSize: 100, maxInflight: 2, spacingMs: 4 });
      void batcher.submit(1);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((call) => call.items)).toEqual([[1]]);
      // 1 ms later, with a slot free: held until 4 ms after the first batch left.
      await vi.advanceTimersByTimeAsync(1);
      void batcher.submit(2);
      await vi.advanceTimersByTimeAsync(1);
      void batcher.submit(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.map((call) => call.items)).toEqual([[1]]);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.map((call) => call.items)).toEqual([[1], [2, 3]]);
      // A quiet spell longer than the spacing (both batches answered): the next item leaves at once.
      calls[0]?.answer();
      calls[1]?.answer();
      await vi.advanceTimersByTimeAsync(10);
      void batcher.submit(4);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((call) => call.items)).toEqual([[1], [2, 3], [4]]);
      // maxSize still sends at once.
      const full = createBatcher({ send, size: (item: number) => item, maxSize: 5, maxInflight: 2, spacingMs: 4 });
      void full.submit(1);
      await vi.advanceTimersByTimeAsync(0);
      void full.submit(5);
      expect(calls.map((call) => call.items).slice(3)).toEqual([[1], [5]]);
    });

    it("sends a batch held for the spacing at once when it weighs spacedBelow", async () => {
      vi.useFakeTimers({ toFake: ["setTimeout", "queueMicrotask", "performance"] });
      const { calls, send } = manualSend();
      const batcher = createBatcher({
        send,
        size: (item: number) => item,
        maxSize: 100,
        maxInflight: 2,
        spacingMs: 4,
        spacedBelow: 10,
      });
      void batcher.submit(1);
      await vi.advanceTimersByTimeAsync(0);
      void batcher.submit(3);
      await vi.advanceTimersByTimeAsync(1);
      // Held: it weighs 3, and the spacing has 3 ms to go.
      expect(calls.map((call) => call.items)).toEqual([[1]]);
      void batcher.submit(7);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((call) => call.items)).toEqual([[1], [3, 7]]);
      // A batch heavy enough when it is scheduled leaves at once too.
      void batcher.submit(12);
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((call) => call.items)).toEqual([[1], [3, 7]]);
      calls[0]?.answer();
      await vi.advanceTimersByTimeAsync(0);
      expect(calls.map((call) => call.items)).toEqual([[1], [3, 7], [12]]);
    });
  });

  it("sends a batch at once when it reaches maxSize, whatever is in flight", async () => {
    const { calls, send } = manualSend();
    const batcher = createBatcher({ send, size: (item: number) => item, maxSize: 5, maxInflight: 1 });
    void batcher.submit(1);
    await tick();
    void batcher.submit(2);
    void batcher.submit(3);
    void batcher.submit(4);
    expect(calls.map((call) => call.items)).toEqual([[1], [2, 3]]);
  });

  it("rejects only the items of a batch that failed", async () => {
    const { calls, send } = manualSend();
    const batcher = createBatcher({ send, size: () => 1, maxSize: 100, maxInflight: 1 });
    const failed = batcher.submit(1);
    await tick();
    const fine = batcher.submit(2);
    calls[0]?.fail(new Error("down"));
    await expect(failed).rejects.toThrow("down");
    await tick();
    calls[1]?.answer();
    expect(await fine).toBe(20);
  });

  it("flush() resolves only once every batch on its way is answered", async () => {
    const { calls, send } = manualSend();
    const batcher = createBatcher({ send, size: () => 1, maxSize: 100, maxInflight: 1 });
    void batcher.submit(1);
    let flushed = false;
    const flushing = batcher.flush().then(() => {
      flushed = true;
    });
    await tick();
    expect(flushed).toBe(false);
    calls[0]?.answer();
    await flushing;
    expect(flushed).toBe(true);
  });
});

describe("withDeadline", () => {
  it("rejects with a DeadlineError when the work is late and hands its eventual result to onLate", async () => {
    let finish: (value: string) => void = () => undefined;
    const work = new Promise<string>((resolve) => {
      finish = resolve;
    });
    const late: string[] = [];
    await expect(withDeadline(work, 20, "the store", (value) => late.push(value))).rejects.toBeInstanceOf(
      DeadlineError,
    );
    finish("written after all");
    await tick();
    expect(late).toEqual(["written after all"]);
  });

  it("passes through work that answers in time, without calling onLate", async () => {
    const late: number[] = [];
    expect(await withDeadline(Promise.resolve(7), 1000, "the store", (value) => late.push(value))).toBe(7);
    expect(late).toEqual([]);
  });
});
