import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeadlines } from "../src/ingest/deadlines.ts";

describe("deadlines on one timer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("expires each deadline at its own time, in order, and never one that was cancelled", () => {
    const deadlines = createDeadlines(() => Date.now());
    const expired: string[] = [];
    deadlines.set(100, () => expired.push("a"));
    vi.advanceTimersByTime(30);
    const b = deadlines.set(100, () => expired.push("b"));
    vi.advanceTimersByTime(30);
    deadlines.set(100, () => expired.push("c"));
    deadlines.set(50, () => expired.push("short"));
    deadlines.cancel(b, 100);
    vi.advanceTimersByTime(39);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(9);
    expect(expired).toEqual(["a"]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual(["a", "short"]);
    vi.advanceTimersByTime(60);
    expect(expired).toEqual(["a", "short", "c"]);
  });

  it("sets a timer only when none is armed, not per deadline, even as the set empties between requests", () => {
    const deadlines = createDeadlines(() => Date.now());
    const timers = vi.spyOn(globalThis, "setTimeout");
    for (let i = 0; i < 50; i++)
      deadlines.cancel(
        deadlines.set(1_000, () => undefined),
        1_000,
      );
    expect(timers).toHaveBeenCalledTimes(1);
    timers.mockRestore();
  });

  it("leaves no timer once the armed one fires with nothing due", () => {
    const deadlines = createDeadlines(() => Date.now());
    deadlines.cancel(
      deadlines.set(1_000, () => undefined),
      1_000,
    );
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
