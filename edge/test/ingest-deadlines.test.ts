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

  it("sets a timer only when the set was empty or a timer fires, not per deadline", () => {
    const deadlines = createDeadlines(() => Date.now());
    const timers = vi.spyOn(globalThis, "setTimeout");
    const handles = Array.from({ length: 50 }, () => deadlines.set(1_000, () => undefined));
    expect(timers).toHaveBeenCalledTimes(1);
    for (const handle of handles.slice(0, 49)) deadlines.cancel(handle, 1_000);
    deadlines.set(1_000, () => undefined);
    expect(timers).toHaveBeenCalledTimes(1);
    timers.mockRestore();
  });

  it("leaves no timer once every deadline is cancelled", () => {
    const deadlines = createDeadlines(() => Date.now());
    const handle = deadlines.set(1_000, () => undefined);
    expect(vi.getTimerCount()).toBe(1);
    deadlines.cancel(handle, 1_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});
