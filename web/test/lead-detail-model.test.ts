// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ChartSpan,
  chartSpans,
  LeadDetailModel,
  labelsOf,
  mergeHistory,
  outcomeLines,
  stageMarks,
} from "../src/lead-detail/model.ts";
import { ApiRequestError, type Breakdown, type ScoreSeries } from "../src/lib/api.ts";
import { fakeApi, fakeRealtime, historyItem, lead, page, scoreUpdate, series } from "./fakes.ts";

describe("the chart spans", () => {
  it("run oldest first by event time, with their times in ms, leaving out a span whose time cannot be read", () => {
    const read = series([
      { timestamp: "2025-01-01T12:00:00Z", score: 30 },
      { timestamp: "2025-01-01T11:00:00Z", score: 10 },
      { timestamp: "not a time", score: 99 },
    ]);
    expect(chartSpans(read).map((span) => [span.from, span.last])).toEqual([
      [Date.parse("2025-01-01T11:00:00Z"), 10],
      [Date.parse("2025-01-01T12:00:00Z"), 30],
    ]);
  });
});

describe("the stage marks", () => {
  const thresholds = { warm: 100, hot: 300, qualified: 600 };
  const span = (from: number, to: number, first: number, last: number): ChartSpan => ({
    from,
    to,
    first,
    last,
    min: Math.min(first, last),
    max: Math.max(first, last),
    entries: from === to ? 1 : 50,
  });

  it("mark each stage the score entered, and when, from cold at 0", () => {
    expect(
      stageMarks([span(1, 1, 50, 50), span(2, 2, 150, 150), span(3, 9, 200, 650), span(10, 10, 90, 90)], thresholds),
    ).toEqual([
      { at: 2, stage: "warm" },
      { at: 9, stage: "qualified" },
      { at: 10, stage: "cold" },
    ]);
  });

  it("mark nothing for a lead that stays cold", () => {
    expect(stageMarks([span(1, 5, 10, 90)], thresholds)).toEqual([]);
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

  it("keeps decay entries into the same stage at different instants apart", () => {
    const decay = (timestamp: string) => historyItem({ event_id: "decay:warm", cause: "decay", timestamp });
    const merged = mergeHistory(
      [decay("2026-01-01T00:00:20.000Z"), historyItem({ event_id: "b" })],
      [historyItem({ event_id: "b" }), decay("2026-01-01T00:00:05.000Z")],
    );
    expect(merged.map((entry) => [entry.event_id, entry.timestamp])).toEqual([
      ["decay:warm", "2026-01-01T00:00:20.000Z"],
      ["b", expect.any(String)],
      ["decay:warm", "2026-01-01T00:00:05.000Z"],
    ]);
  });
});

const BREAKDOWN: Breakdown = {
  lead_id: "lead-1",
  score: 85,
  rules_version: 3,
  groups: [{ group: "email", label: "Email", max: 60, points: 60, events: 14 }],
  rules: [
    { rule_id: "open", label: "Email open", group: "email", points: 60, events: 14 },
    { rule_id: "pricing", label: "Pricing page", group: null, points: 25, events: 2 },
  ],
  unmatched: 1,
};

describe("a history entry's rules", () => {
  it("read with their labels, points asked and given, and cuts", () => {
    const entry = historyItem({
      event_id: "e1",
      rules: [
        { rule_id: "open", group: "email", asked: 5, given: 0, cuts: ['group "email" at its max 60'] },
        { rule_id: "gone", group: null, asked: 2, given: 2, cuts: [] },
      ],
    });
    expect(outcomeLines(entry, labelsOf(BREAKDOWN).rules)).toEqual([
      {
        rule_id: "open",
        name: "Email open",
        group: "email",
        asked: 5,
        given: 0,
        cuts: ['group "email" at its max 60'],
      },
      { rule_id: "gone", name: "gone", group: null, asked: 2, given: 2, cuts: [] },
    ]);
    expect(outcomeLines(historyItem({ event_id: "v1" }), new Map())).toEqual([]);
  });
});

describe("rule and group names", () => {
  it("come from the breakdown, else from the current rules and groups, else are the ids", () => {
    const bare: Breakdown = {
      ...BREAKDOWN,
      groups: [{ group: "email", points: 60, events: 14 }],
      rules: BREAKDOWN.rules.map(({ label: _, ...rule }) => rule),
    };
    const names = labelsOf(bare, {
      rules: [{ _id: "open", label: "Newsletter open", event_type: "email_open", points: 5, active: true }],
      groups: [{ _id: "email", label: "Email", max: 60 }],
    });
    expect(names.rules.get("open")).toBe("Newsletter open");
    expect(names.rules.get("pricing")).toBeUndefined();
    expect(names.groups.get("email")).toEqual({ label: "Email", max: 60 });
    expect(labelsOf(BREAKDOWN, null).rules.get("open")).toBe("Email open");
    expect(labelsOf(bare, null).groups.get("email")).toEqual({ label: "email" });
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
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("ready");
    expect(model.lead.value?.current_score).toBe(25);
    expect(api.leadHistory).toHaveBeenCalledWith("lead-1", { order: "desc", limit: 50 });
    expect(model.hasMore.value).toBe(true);
    expect(socket.sent).toContainEqual({ event: "subscribe", request: { lead_id: "lead-1" } });
  });

  it("follows the lead a merged id answers, and the lead a merge names while the page is open", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "ada", current_score: 35 }));
    const { socket, realtime, held } = fakeRealtime();
    const merged = new LeadDetailModel({ api, realtime }, "anon-1");
    const release = merged.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.at(-1)).toEqual({ event: "subscribe", request: { lead_id: "ada" } });
    expect(socket.sent).toContainEqual({ event: "unsubscribe", request: { lead_id: "anon-1" } });
    socket.scoreUpdate(scoreUpdate({ lead_id: "ada", current_score: 40, delta: 5 }));
    expect(merged.lead.value?.current_score).toBe(40);
    release();
    expect(held()).toBe(0);

    // Open on an anonymous lead when it is merged: the page follows Bob and reads him.
    api.getLead.mockResolvedValue(lead({ _id: "anon-2", current_score: 15 }));
    const open = new LeadDetailModel({ api, realtime }, "anon-2");
    open.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.at(-1)).toEqual({ event: "subscribe", request: { lead_id: "anon-2" } });
    api.getLead.mockResolvedValue(lead({ _id: "bob", current_score: 65 }));
    socket.leadMerged({ lead_id: "someone-else", into: "carol" });
    socket.leadMerged({ lead_id: "anon-2", into: "bob" });
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent.at(-1)).toEqual({ event: "subscribe", request: { lead_id: "bob" } });
    expect(open.lead.value).toMatchObject({ _id: "bob", current_score: 65 });
    socket.scoreUpdate(scoreUpdate({ lead_id: "bob", current_score: 70, delta: 5 }));
    expect(open.lead.value?.current_score).toBe(70);
  });

  it("charts the lead's score series, not the history entries it has loaded", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 40, event_count: 300 }));
    api.leadHistory.mockResolvedValue(page([historyItem({ event_id: "e300", score: 40 })], null, "older"));
    api.leadSeries.mockResolvedValue(
      series([
        { timestamp: "2025-01-01T00:50:00.000Z", score: 250 },
        { timestamp: "2025-01-01T01:40:00.000Z", score: 120 },
        { timestamp: "2025-01-01T05:00:00.000Z", score: 40 },
      ]),
    );
    const model = new LeadDetailModel({ api, realtime: fakeRealtime().realtime }, "lead-1");
    expect(model.seriesStatus.value).toBe("loading");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.leadSeries).toHaveBeenCalledWith("lead-1", 600);
    expect(model.seriesStatus.value).toBe("ready");
    expect(model.spans.value.map((span) => span.last)).toEqual([250, 120, 40]);
  });

  it("charts a series of one span per event", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 15, event_count: 2 }));
    api.leadSeries.mockResolvedValue(
      series([
        { timestamp: "2025-01-01T10:00:00.000Z", score: 5 },
        { timestamp: "2025-01-01T10:01:00.000Z", score: 15 },
      ]),
    );
    const model = new LeadDetailModel({ api, realtime: fakeRealtime().realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.spans.value).toHaveLength(2);
  });

  it("reads the breakdown, and again after a live change, keeping it when a quiet re-read fails", async () => {
    const api = fakeApi();
    api.leadBreakdown.mockResolvedValueOnce(BREAKDOWN);
    const { socket, realtime } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.leadBreakdown).toHaveBeenCalledWith("lead-1");
    expect(model.breakdown.value).toEqual(BREAKDOWN);
    expect(model.labels.value.groups.get("email")).toEqual({ label: "Email", max: 60 });
    // The current rules are read once, for labels the breakdown leaves out.
    expect(api.listRules).toHaveBeenCalledTimes(1);

    api.leadBreakdown.mockResolvedValueOnce({ ...BREAKDOWN, score: 90 });
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", current_score: 90, delta: 5 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(model.breakdown.value?.score).toBe(90);

    api.leadBreakdown.mockRejectedValueOnce(new Error("down"));
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", current_score: 95, delta: 5 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(model.breakdown.value?.score).toBe(90);
    expect(model.breakdownStatus.value).toBe("ready");
  });

  it("re-reads the score series after a live change of the lead", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 5, event_count: 1 }));
    api.leadSeries.mockResolvedValueOnce(series([{ timestamp: "2025-01-01T10:00:00.000Z", score: 5 }]));
    const { socket, realtime } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.spans.value.map((span) => span.last)).toEqual([5]);

    // A late event: it lands before the newest one and raises every score after it.
    api.leadSeries.mockResolvedValueOnce(
      series([
        { timestamp: "2025-01-01T09:00:00.000Z", score: 100 },
        { timestamp: "2025-01-01T10:00:00.000Z", score: 105 },
      ]),
    );
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", event_id: "e0", current_score: 105, delta: 100 }));
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", event_id: "e2", current_score: 105, delta: 0 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(api.leadSeries).toHaveBeenCalledTimes(2);
    expect(model.spans.value.map((span) => span.last)).toEqual([100, 105]);

    api.leadSeries.mockClear();
    socket.scoreUpdate(scoreUpdate({ lead_id: "other", current_score: 999 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(api.leadSeries).not.toHaveBeenCalled();
  });

  it("keeps the chart it shows when a re-read of the series fails, and says so when the first read does", async () => {
    const api = fakeApi();
    api.leadSeries.mockResolvedValueOnce(series([{ timestamp: "2025-01-01T10:00:00.000Z", score: 5 }]));
    const { socket, realtime } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.leadSeries.mockRejectedValueOnce(new ApiRequestError(503, "SERVICE_UNAVAILABLE", "try again"));
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", current_score: 15 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(model.seriesStatus.value).toBe("ready");
    expect(model.spans.value.map((span) => span.last)).toEqual([5]);

    const failing = fakeApi();
    failing.leadSeries.mockRejectedValue(new ApiRequestError(503, "SERVICE_UNAVAILABLE", "try again"));
    const other = new LeadDetailModel({ api: failing, realtime: fakeRealtime().realtime }, "lead-2");
    other.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(other.seriesStatus.value).toBe("error");
    expect(other.seriesError.value).toBe("try again");
  });

  it("shows the newest series when reads overlap", async () => {
    const api = fakeApi();
    let answerFirst: (read: ScoreSeries) => void = () => undefined;
    api.leadSeries.mockReturnValueOnce(
      new Promise((resolve) => {
        answerFirst = resolve;
      }),
    );
    api.leadSeries.mockResolvedValueOnce(series([{ timestamp: "2025-01-01T10:00:00.000Z", score: 50 }]));
    const model = new LeadDetailModel({ api, realtime: fakeRealtime().realtime }, "lead-1");
    model.activate();
    await model.reload();
    answerFirst(series([{ timestamp: "2025-01-01T09:00:00.000Z", score: 10 }]));
    await vi.advanceTimersByTimeAsync(0);
    expect(model.spans.value.map((span) => span.last)).toEqual([50]);
  });

  it("re-reads the lead after a live change, so its rank follows the new score", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValueOnce(lead({ _id: "lead-1", current_score: 5, rank: 40, rank_of: 90 }));
    const { socket, realtime } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
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
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
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
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
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
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
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
    const model = new LeadDetailModel({ api, realtime: fakeRealtime().realtime }, "lead-1");
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
    const model = new LeadDetailModel({ api, realtime }, "soon");
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
    const model = new LeadDetailModel({ api, realtime: fakeRealtime().realtime }, "ghost");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("not-found");
  });

  it("stops reacting once disposed: no score listener, no room, no timer left", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "lead-1", current_score: 5 }));
    const { socket, realtime, held } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "lead-1");
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", event_id: "e9", current_score: 8 }));
    expect(model.fresh.value.has("e9")).toBe(true);
    // The score listener, the merge listener and the room.
    expect(held()).toBe(3);
    model[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
    expect(held()).toBe(0);
    expect(socket.sent).toContainEqual({ event: "unsubscribe", request: { lead_id: "lead-1" } });
    socket.scoreUpdate(scoreUpdate({ lead_id: "lead-1", event_id: "e10", current_score: 20 }));
    expect(model.lead.value?.current_score).toBe(8);
    const reads = api.getLead.mock.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.getLead).toHaveBeenCalledTimes(reads);
  });
});
