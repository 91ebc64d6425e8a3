// @vitest-environment happy-dom

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Movement } from "../src/lib/api.ts";
import { groupByStage, isRise, MovementsModel } from "../src/movements/model.ts";
import { fakeApi, fakeRealtime, page } from "./fakes.ts";

const movement = (lead_id: string, from: Movement["from"], to: Movement["to"]): Movement => ({
  lead_id,
  from,
  to,
  at: "2026-12-06T10:00:00.000Z",
  event_id: `${lead_id}-e`,
  event_type: "purchase",
  timestamp: "2026-12-06T09:59:00.000Z",
  score: 650,
});

describe("movements grouped by the stage entered", () => {
  it("lists qualified first, each group in the order read, drops as well as rises", () => {
    const read = [movement("a", "hot", "qualified"), movement("b", "hot", "warm"), movement("c", "warm", "qualified")];
    expect(groupByStage(read).map((group) => [group.stage, group.movements.map((m) => m.lead_id)])).toEqual([
      ["qualified", ["a", "c"]],
      ["hot", []],
      ["warm", ["b"]],
      ["cold", []],
    ]);
    expect(isRise(read[0] as Movement)).toBe(true);
    expect(isRise(read[1] as Movement)).toBe(false);
  });
});

describe("the movements model", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("reads the last 24 hours, then 7 days when asked, and again after live activity", async () => {
    const api = fakeApi();
    api.movements.mockResolvedValue(page([movement("a", "hot", "qualified"), movement("a", "qualified", "hot")], null));
    const { socket, realtime } = fakeRealtime();
    const model = new MovementsModel({ api, realtime, stage: "qualified" });
    const stop = model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.movements).toHaveBeenLastCalledWith({ since: "24h", stage: "qualified", limit: 200 });
    expect(model.status.value).toBe("ready");
    expect(model.leadCount.value).toBe(1);
    model.setWindow("7d");
    await vi.advanceTimersByTimeAsync(0);
    expect(api.movements).toHaveBeenLastCalledWith({ since: "7d", stage: "qualified", limit: 200 });
    expect(api.movements).toHaveBeenCalledTimes(2);
    socket.leaderboard({ top: [] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.movements).toHaveBeenCalledTimes(3);
    stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(api.movements).toHaveBeenCalledTimes(3);
  });
});
