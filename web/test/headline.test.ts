// @vitest-environment happy-dom

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { funnelOf, HeadlineModel } from "../src/headline/model.ts";
import { fakeApi, fakeRealtime } from "./fakes.ts";

describe("the stage funnel", () => {
  it("gives each stage's count and the share of leads at it or beyond that reached the next", () => {
    expect(funnelOf({ cold: 50, warm: 30, hot: 15, qualified: 5 })).toEqual([
      { stage: "cold", count: 50, onward: 0.5 },
      { stage: "warm", count: 30, onward: 0.4 },
      { stage: "hot", count: 15, onward: 0.25 },
      { stage: "qualified", count: 5, onward: null },
    ]);
  });

  it("has no share where no lead is", () => {
    expect(funnelOf({ cold: 0, warm: 0, hot: 0, qualified: 0 }).map((step) => step.onward)).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });
});

describe("the headline figures", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("come from one stats request and nothing else", async () => {
    const api = fakeApi();
    const model = new HeadlineModel({ api, realtime: fakeRealtime().realtime });
    const stop = model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("ready");
    expect(api.stats).toHaveBeenCalledTimes(1);
    expect(api.listLeads).not.toHaveBeenCalled();
    expect(api.metrics).not.toHaveBeenCalled();
    stop();
  });

  it("count the events the store refused from the same figures, 0 until they are read", async () => {
    const api = fakeApi();
    const stats = await api.stats();
    api.stats.mockResolvedValue({ ...stats, dead_letters_24h: 3 });
    const model = new HeadlineModel({ api, realtime: fakeRealtime().realtime });
    expect(model.deadLetters.value).toBe(0);
    await model.refresh();
    expect(model.deadLetters.value).toBe(3);
    expect(api.stats).toHaveBeenCalledTimes(2);
  });

  it("are read once on load, not again for the top the socket gets as it first connects, but again after a change or a reconnection", async () => {
    const api = fakeApi();
    const { socket, realtime } = fakeRealtime(false);
    const model = new HeadlineModel({ api, realtime });
    const stop = model.activate();
    socket.serverConnect();
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.stats).toHaveBeenCalledTimes(1);
    socket.leaderboard({ top: [] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.stats).toHaveBeenCalledTimes(2);
    socket.serverDisconnect();
    socket.serverConnect();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.stats).toHaveBeenCalledTimes(3);
    stop();
  });

  it("keep the figures shown when a later read fails", async () => {
    const api = fakeApi();
    const model = new HeadlineModel({ api, realtime: fakeRealtime().realtime });
    await model.refresh();
    api.stats.mockRejectedValueOnce(new Error("down"));
    await model.refresh();
    expect(model.status.value).toBe("ready");
    expect(model.stats.value?.leads).toBe(0);
  });

  it("are no longer read once the model is disposed: its timers and its listener go with it", async () => {
    const api = fakeApi();
    const { socket, realtime, held } = fakeRealtime(false);
    const model = new HeadlineModel({ api, realtime });
    model.activate();
    socket.serverConnect();
    await vi.advanceTimersByTimeAsync(0);
    socket.leaderboard({ top: [] });
    expect(vi.getTimerCount()).toBe(2);
    expect(held()).toBe(1);
    model[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
    expect(held()).toBe(0);
    socket.leaderboard({ top: [] });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.stats).toHaveBeenCalledTimes(1);
  });
});
