// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { chartPoints, createLeadDetailModel, mergeHistory } from "../src/lead-detail/model.ts";
import { ApiRequestError } from "../src/lib/api.ts";
import { fakeApi, fakeRealtime, historyItem, lead, page, scoreUpdate } from "./fakes.ts";

describe("the chart points", () => {
  it("run oldest first by event time, then event id", () => {
    const points = chartPoints([
      historyItem({ event_id: "c", timestamp: "2025-01-01T12:00:00Z", score: 30 }),
      historyItem({ event_id: "b", timestamp: "2025-01-01T11:00:00Z", score: 20, late: true }),
      historyItem({ event_id: "a", timestamp: "2025-01-01T11:00:00Z", score: 10 }),
    ]);
    expect(points.map((point) => point.score)).toEqual([10, 20, 30]);
    expect(points[1]?.late).toBe(true);
  });
});

describe("merging history pages", () => {
  it("keeps the fresh copy of an entry and drops repeats", () => {
    const merged = mergeHistory(
      [historyItem({ event_id: "b", score: 99 }), historyItem({ event_id: "a" })],
      [historyItem({ event_id: "a" }), historyItem({ event_id: "z" })],
    );
    expect(merged.map((entry) => [entry.event_id, entry.score])).toEqual([
      ["b", 99],
      ["a", 5],
      ["z", 5],
    ]);
  });
});

describe("the lead detail model", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("loads the lead and its newest events, and joins the lead's room", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 25 }));
    api.leadHistory.mockResolvedValue(page([historyItem({ event_id: "e1" })], null, "older"));
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("ready");
    expect(model.lead.value?.current_score).toBe(25);
    expect(api.leadHistory).toHaveBeenCalledWith("lead-1", { order: "desc", limit: 50 });
    expect(model.hasMore.value).toBe(true);
    expect(socket.sent).toContainEqual({ event: "subscribe", request: { lead_id: "lead-1" } });
  });

  it("re-reads the lead after a live change, so its rank follows the new score", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValueOnce(lead({ _id: "lead-1", current_score: 5, rank: 40, rank_of: 90 }));
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.lead.value).toMatchObject({ rank: 40, rank_of: 90 });

    api.getLead.mockResolvedValueOnce(lead({ _id: "lead-1", current_score: 105, rank: 3, rank_of: 91 }));
    socket.scoreUpdate(
      scoreUpdate({ lead_id: "lead-1", event_id: "e9", current_score: 105, delta: 100, stage: "warm" }),
    );
    await vi.advanceTimersByTimeAsync(300);
    expect(api.getLead).toHaveBeenCalledTimes(2);
    expect(model.lead.value).toMatchObject({ current_score: 105, rank: 3, rank_of: 91 });
  });

  it("shows a live change at once and re-reads the history, which a late event may have rewritten", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 5 }));
    api.leadHistory.mockResolvedValueOnce(page([historyItem({ event_id: "e1", score: 5 })]));
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);

    api.leadHistory.mockResolvedValueOnce(
      page([
        historyItem({ event_id: "e1", score: 105, delta: 5 }),
        historyItem({ event_id: "e0", score: 100, delta: 100, late: true, timestamp: "2024-12-31T00:00:00Z" }),
      ]),
    );
    socket.scoreUpdate(
      scoreUpdate({ lead_id: "lead-1", event_id: "e0", current_score: 105, delta: 100, stage: "warm" }),
    );
    expect(model.lead.value).toMatchObject({ current_score: 105, stage: "warm" });
    expect(model.fresh.value.has("e0")).toBe(true);
    await vi.advanceTimersByTimeAsync(300);
    expect(model.history.value.map((entry) => [entry.event_id, entry.score, entry.late])).toEqual([
      ["e1", 105, false],
      ["e0", 100, true],
    ]);
  });

  it("ignores updates of other leads", async () => {
    const api = fakeApi();
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.leadHistory.mockClear();
    socket.scoreUpdate(scoreUpdate({ lead_id: "other", current_score: 999 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(model.lead.value?.current_score).toBe(0);
    expect(api.leadHistory).not.toHaveBeenCalled();
  });

  it("does not re-read for a snapshot of what it already shows", async () => {
    const api = fakeApi();
    api.leadHistory.mockResolvedValue(page([historyItem({ event_id: "e1" })]));
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.leadHistory.mockClear();
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", event_id: "e1", snapshot: true }));
    await vi.advanceTimersByTimeAsync(300);
    expect(api.leadHistory).not.toHaveBeenCalled();
    expect(model.fresh.value.size).toBe(0);
  });

  it("appends older pages", async () => {
    const api = fakeApi();
    api.leadHistory.mockResolvedValueOnce(page([historyItem({ event_id: "e2" })], null, "c1"));
    const model = createLeadDetailModel({ api, realtime: fakeRealtime().realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.leadHistory.mockResolvedValueOnce(page([historyItem({ event_id: "e1" })], null, null));
    await model.loadMore();
    expect(api.leadHistory).toHaveBeenLastCalledWith("lead-1", { order: "desc", limit: 50, cursor: "c1" });
    expect(model.history.value.map((entry) => entry.event_id)).toEqual(["e2", "e1"]);
    expect(model.hasMore.value).toBe(false);
  });

  it("shows a lead that was not found as soon as its first event is scored", async () => {
    const api = fakeApi();
    api.getLead.mockRejectedValueOnce(new ApiRequestError(404, "NOT_FOUND", "lead not found"));
    const { socket, realtime } = fakeRealtime();
    const model = createLeadDetailModel({ api, realtime }, "soon");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("not-found");
    api.getLead.mockResolvedValueOnce(lead({ _id: "soon", current_score: 100 }));
    socket.scoreUpdate(scoreUpdate({ lead_id: "soon", current_score: 100 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(model.status.value).toBe("ready");
    expect(model.lead.value?.current_score).toBe(100);
  });

  it("says so when the lead does not exist", async () => {
    const api = fakeApi();
    api.getLead.mockRejectedValue(new ApiRequestError(404, "NOT_FOUND", "lead not found"));
    const model = createLeadDetailModel({ api, realtime: fakeRealtime().realtime }, "ghost");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("not-found");
  });
});
