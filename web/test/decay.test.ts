// @vitest-environment happy-dom
import { decayedScore as contractDecayedScore, shownScore as contractShownScore } from "@leadscore/contracts";
import { DEFAULT_STAGE_THRESHOLDS, type StageThresholds } from "@leadscore/contracts/stage";
import { signal } from "@preact/signals";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaderboardModel } from "../src/leaderboard/model.ts";
import { LeadsModel } from "../src/leads/model.ts";
import {
  type DecayClock,
  decayCurve,
  decayedRows,
  decayedScore,
  decayedStage,
  decayHeadline,
  halfLifeWords,
  heardAtOf,
  shownScore,
  tickMs,
} from "../src/lib/decay.ts";
import { formOf, halfLifeOf, ScoringModel } from "../src/settings/model.ts";
import { entry, fakeApi, fakeRealtime, lead, page, scoreUpdate } from "./fakes.ts";

/** A clock the test moves by hand. */
function manualClock(halfLife: number | null, at = 0) {
  const now = signal(at);
  const clock: DecayClock = {
    halfLife: signal(halfLife),
    thresholds: signal(DEFAULT_STAGE_THRESHOLDS),
    now,
    watch: () => () => undefined,
  };
  return { clock, now };
}

describe("the decay maths", () => {
  it("halves a score every half-life, as the contracts' fold does", () => {
    expect(decayedScore(320, 0, 5000, 5)).toBe(160);
    expect(decayedScore(320, 0, 15_000, 5)).toBe(40);
    for (const [score, from, to, h] of [
      [320, 1_000, 1_470, 5],
      [987.25, 0, 86_400_000 * 12.5, 2_592_000],
      [1, 10, 11, 1],
    ] as const) {
      expect(decayedScore(score, from, to, h)).toBe(contractDecayedScore(score, from, to, h));
    }
  });

  it("leaves a score alone without a half-life, at zero, and before the instant it was heard", () => {
    expect(decayedScore(320, 0, 60_000, null)).toBe(320);
    expect(decayedScore(0, 0, 60_000, 5)).toBe(0);
    expect(decayedScore(320, 5000, 1000, 5)).toBe(320);
  });

  it("shows a score rounded down, as the API does, so the number and the stage agree", () => {
    for (const score of [299.6, 300, 0.4, 599.999]) expect(shownScore(score)).toBe(contractShownScore(score));
    expect(shownScore(299.6)).toBe(299);
  });

  it("finds a lead scored 320 warm 0.47 s later at a half-life of 5 s (5 · log2(320/300))", () => {
    const crossing = 5 * Math.log2(320 / 300) * 1000;
    const before = decayedScore(320, 0, crossing - 5, 5);
    const after = decayedScore(320, 0, crossing + 5, 5);
    expect(decayedStage("hot", before, DEFAULT_STAGE_THRESHOLDS)).toBe("hot");
    expect(decayedStage("hot", after, DEFAULT_STAGE_THRESHOLDS)).toBe("warm");
    expect(shownScore(after)).toBe(299);
  });

  it("stages by the deployment's thresholds", () => {
    expect(decayedStage("qualified", 450, [50, 200, 400])).toBe("qualified");
    expect(decayedStage("qualified", 450, DEFAULT_STAGE_THRESHOLDS)).toBe("hot");
    expect(decayedStage("hot", 150, [50, 200, 400])).toBe("warm");
  });

  it("only ever lowers the stage it heard", () => {
    expect(decayedStage("qualified", 650, DEFAULT_STAGE_THRESHOLDS)).toBe("qualified");
    expect(decayedStage("warm", 650, DEFAULT_STAGE_THRESHOLDS)).toBe("warm");
    expect(decayedStage("qualified", 99, DEFAULT_STAGE_THRESHOLDS)).toBe("cold");
  });

  it("draws the curve through the score at each end and halfway", () => {
    const points = decayCurve(400, 0, 10_000, 5, 4);
    expect(points).toHaveLength(5);
    expect(points[0]).toEqual({ at: 0, score: 400 });
    expect(points[2]).toEqual({ at: 5000, score: 200 });
    expect(points[4]).toEqual({ at: 10_000, score: 100 });
    expect(decayCurve(400, 0, 1, 5, 0)).toHaveLength(2);
  });

  it("ticks about when a score of 1,000 loses a point, from a quarter second to a minute", () => {
    expect(tickMs(5)).toBe(250);
    expect(tickMs(3600)).toBe(Math.round(3_600_000 / (1000 * Math.LN2)));
    expect(tickMs(30 * 86_400)).toBe(60_000);
  });

  it("says the half-life in the largest unit that holds it", () => {
    expect(decayHeadline(30 * 86_400)).toBe("Scores halve every 30 days");
    expect(halfLifeWords(86_400)).toBe("1 day");
    expect(halfLifeWords(36 * 3600)).toBe("36 hours");
    expect(halfLifeWords(5)).toBe("5 seconds");
    expect(halfLifeWords(90)).toBe("90 seconds");
    expect(halfLifeWords(1.5)).toBe("1.5 seconds");
  });

  it("decays a live update from its event's time, or from the lead's newest event when it is a late one", () => {
    const update = scoreUpdate({ lead_id: "a", timestamp: "2026-01-01T00:00:10.000Z" });
    expect(heardAtOf(update, { last_event_at: null })).toBe(Date.parse("2026-01-01T00:00:10.000Z"));
    expect(heardAtOf(update, { last_event_at: "2026-01-01T00:00:30.000Z" })).toBe(
      Date.parse("2026-01-01T00:00:30.000Z"),
    );
  });

  it("decays a subscribe's snapshot from when it arrived: realtime sent it decayed to that instant", () => {
    const snapshot = scoreUpdate({ lead_id: "a", timestamp: "2026-01-01T00:00:10.000Z", snapshot: true });
    const arrived = Date.parse("2026-01-01T00:05:00.000Z");
    expect(heardAtOf(snapshot, { last_event_at: "2026-01-01T00:00:10.000Z" }, () => arrived)).toBe(arrived);
  });

  it("decays rows from when each was heard, and leaves them as they are without a half-life", () => {
    const rows = [lead({ _id: "a", current_score: 320, stage: "hot" }), lead({ _id: "b", current_score: 0 })];
    const heard: Record<string, number> = { a: 1000, b: 1000 };
    const { clock } = manualClock(5, 6000);
    const shown = decayedRows(rows, (row) => heard[row._id], clock);
    expect(shown[0]).toMatchObject({ current_score: 160, stage: "warm" });
    expect(shown[1]).toBe(rows[1]);
    expect(decayedRows(rows, () => 0, manualClock(null, 6000).clock)).toBe(rows);
  });
});

describe("the half-life form", () => {
  it("offers whole days in days, anything else in hours, and off without a half-life", () => {
    expect(formOf(30 * 86_400)).toEqual({ on: true, amount: "30", unit: "days" });
    expect(formOf(36 * 3600)).toEqual({ on: true, amount: "36", unit: "hours" });
    expect(formOf(null)).toMatchObject({ on: false });
  });

  it("asks for whole seconds, null when off, and names an amount it cannot use", () => {
    expect(halfLifeOf({ on: true, amount: "30", unit: "days" })).toEqual({ seconds: 2_592_000 });
    expect(halfLifeOf({ on: true, amount: "1.5", unit: "hours" })).toEqual({ seconds: 5400 });
    expect(halfLifeOf({ on: false, amount: "x", unit: "days" })).toEqual({ seconds: null });
    expect(halfLifeOf({ on: true, amount: "", unit: "days" })).toHaveProperty("error");
    expect(halfLifeOf({ on: true, amount: "-2", unit: "hours" })).toHaveProperty("error");
    expect(halfLifeOf({ on: true, amount: "0.0001", unit: "hours" })).toHaveProperty("error");
  });
});

describe("the scoring model", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(halfLife: number | null, thresholds: StageThresholds = DEFAULT_STAGE_THRESHOLDS) {
    const api = fakeApi({
      scoring: vi.fn(async () => ({ half_life_seconds: halfLife, stage_thresholds: thresholds })),
    });
    const adminToken = signal("the-admin-token");
    const model = new ScoringModel({ api, adminToken });
    return { api, model };
  }

  it("reads the half-life and says it in the headline", async () => {
    const { model } = setup(2_592_000);
    expect(model.headline.value).toBeNull();
    await model.load();
    expect(model.halfLife.value).toBe(2_592_000);
    expect(model.headline.value).toBe("Scores halve every 30 days");
    expect(model.form.value).toEqual({ on: true, amount: "30", unit: "days" });
  });

  it("stages the rows it decays by the thresholds the deployment gives", async () => {
    const { model } = setup(5, [50, 200, 400]);
    await model.load();
    const heard = model.decay.now.value;
    const rows = [{ current_score: 450, stage: "qualified" as const }];
    // 450 halves to 225 in 5 s: hot by these thresholds (warm by the defaults), where the lead stays until 200.
    vi.setSystemTime(heard + 5000);
    const release = model.decay.watch();
    expect(decayedRows(rows, () => heard, model.decay)).toEqual([{ current_score: 225, stage: "hot" }]);
    release();
  });

  it("ticks its clock only while watched and with a half-life, on one timer however many watch", async () => {
    const off = setup(null);
    await off.model.load();
    const release = off.model.decay.watch();
    expect(vi.getTimerCount()).toBe(1); // the setting's re-read every minute
    release();

    const { model } = setup(5);
    await model.load();
    expect(vi.getTimerCount()).toBe(0);
    const watching = [model.decay.watch(), model.decay.watch(), model.decay.watch()];
    expect(vi.getTimerCount()).toBe(2); // the clock and the re-read
    const before = model.decay.now.value;
    vi.advanceTimersByTime(1000);
    expect(model.decay.now.value).toBeGreaterThanOrEqual(before + 1000);
    for (const stop of watching) stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("sets the half-life with the admin token and shows the re-key's result", async () => {
    const { api, model } = setup(null);
    await model.load();
    api.setScoring.mockResolvedValueOnce({
      half_life_seconds: 129_600,
      stage_thresholds: DEFAULT_STAGE_THRESHOLDS,
      rekeyed_leads: 1204,
      rekey_ms: 412,
    });
    model.edit({ on: true, amount: "36", unit: "hours" });
    await model.save();
    expect(api.setScoring).toHaveBeenCalledWith({ half_life_seconds: 129_600 }, "the-admin-token");
    expect(model.halfLife.value).toBe(129_600);
    expect(model.saved.value).toMatchObject({ rekeyed_leads: 1204, rekey_ms: 412 });
    expect(model.headline.value).toBe("Scores halve every 36 hours");

    model.edit({ on: false });
    await model.save();
    expect(api.setScoring).toHaveBeenLastCalledWith({ half_life_seconds: null }, "the-admin-token");
    expect(model.headline.value).toBeNull();
  });

  it("sends nothing for an amount it cannot use, and shows the API's refusal", async () => {
    const { api, model } = setup(null);
    await model.load();
    model.edit({ on: true, amount: "soon" });
    await model.save();
    expect(api.setScoring).not.toHaveBeenCalled();
    expect(model.formError.value).toMatch(/days or hours/);
    api.setScoring.mockRejectedValueOnce(new Error("another change is running"));
    model.edit({ amount: "2" });
    await model.save();
    expect(model.formError.value).toBe("another change is running");
    expect(model.halfLife.value).toBeNull();
  });

  it("leaves no timer once disposed", async () => {
    const { model } = setup(5);
    await model.load();
    model.decay.watch();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    model[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("decaying scores on the dashboard", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-03-01T12:00:00.000Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function setup() {
    const scoring = new ScoringModel({
      api: fakeApi({
        scoring: vi.fn(async () => ({ half_life_seconds: 5, stage_thresholds: DEFAULT_STAGE_THRESHOLDS })),
      }),
      adminToken: signal(""),
    });
    await scoring.load();
    const t0 = Date.now();
    const rows = [
      lead({ _id: "a", current_score: 320, stage: "hot" }),
      lead({ _id: "b", current_score: 150, stage: "warm" }),
    ];
    const api = fakeApi({
      listLeads: vi.fn(async () => page(rows)),
      // As the edge reads it: decayed to the instant of the request.
      leaderboard: vi.fn(async () => {
        const factor = 2 ** (-(Date.now() - t0) / 5000);
        return [entry("a", 320 * factor, { stage: "hot" }), entry("b", 150 * factor, { stage: "warm" })];
      }),
    });
    const { realtime, socket } = fakeRealtime();
    const leads = new LeadsModel({ api, realtime, decay: scoring.decay, url: { read: () => "", write: () => {} } });
    const board = new LeaderboardModel({ api, realtime, decay: scoring.decay });
    return { api, scoring, leads, board, socket };
  }

  it("shows the table's and the board's scores falling, and the stage changing, without any event", async () => {
    const { scoring, leads, board } = await setup();
    const intervals = vi.spyOn(globalThis, "setInterval");
    leads.activate();
    board.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(leads.rows.value.map((row) => [shownScore(row.current_score), row.stage])).toEqual([
      [320, "hot"],
      [150, "warm"],
    ]);
    // 0.47 s is when 320 reaches 300 at a half-life of 5 s; the clock ticks every 250 ms.
    await vi.advanceTimersByTimeAsync(500);
    expect(leads.rows.value[0]?.stage).toBe("warm");
    expect(shownScore(leads.rows.value[0]?.current_score ?? 0)).toBe(298); // ⌊320 · 2^(−0.5/5)⌋ = ⌊298.6⌋
    expect(board.shownTop.value[0]).toMatchObject({ _id: "a", stage: "warm" });
    expect(shownScore(board.shownTop.value[0]?.current_score ?? 0)).toBe(298);
    await vi.advanceTimersByTimeAsync(5000);
    expect(shownScore(leads.rows.value[0]?.current_score ?? 0)).toBe(Math.floor(320 * 2 ** (-5.5 / 5)));
    expect(leads.rows.value[1]?.stage).toBe("cold");
    // The raw rows stay as the server sent them; only what is shown decays.
    expect(leads.leads.value[0]?.current_score).toBe(320);
    // One clock for both views and every row: a single timer at the clock's pace.
    expect(intervals.mock.calls.filter(([, ms]) => ms === tickMs(5))).toHaveLength(1);
    intervals.mockRestore();
    leads[Symbol.dispose]();
    board[Symbol.dispose]();
    scoring[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("decays a live update from its event's time", async () => {
    const { scoring, leads, socket } = await setup();
    leads.activate();
    await vi.advanceTimersByTimeAsync(0);
    socket.scoreUpdate(
      scoreUpdate({
        lead_id: "b",
        current_score: 400,
        stage: "hot",
        timestamp: new Date(Date.now() - 5000).toISOString(),
      }),
    );
    expect(leads.rows.value[1]).toMatchObject({ current_score: 200, stage: "warm" });
    leads[Symbol.dispose]();
    scoring[Symbol.dispose]();
  });

  it("reads the board again from the API on a broadcast, whose scores are not decayed", async () => {
    const { api, scoring, board, socket } = await setup();
    board.activate();
    await vi.advanceTimersByTimeAsync(10_000);
    // The broadcast repeats the score the lead's last event left, 320, ten seconds (two half-lives) later.
    socket.leaderboard({ top: [entry("a", 320, { stage: "hot" }), entry("b", 150, { stage: "warm" })] });
    expect(shownScore(board.shownTop.value[0]?.current_score ?? 0)).toBe(80);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.leaderboard).toHaveBeenCalledTimes(2);
    expect(shownScore(board.shownTop.value[0]?.current_score ?? 0)).toBe(Math.floor(320 * 2 ** (-11 / 5)));
    expect(board.shownTop.value[0]?.stage).toBe("cold");
    board[Symbol.dispose]();
    scoring[Symbol.dispose]();
  });

  it("reads the board again once the half-life is known, over a broadcast applied before it was", async () => {
    const scoring = new ScoringModel({
      api: fakeApi({
        scoring: vi.fn(async () => ({ half_life_seconds: 5, stage_thresholds: DEFAULT_STAGE_THRESHOLDS })),
      }),
      adminToken: signal(""),
    });
    const api = fakeApi({ leaderboard: vi.fn(async () => [entry("a", 80, { stage: "cold" })]) });
    const { realtime, socket } = fakeRealtime();
    const board = new LeaderboardModel({ api, realtime, decay: scoring.decay });
    board.activate();
    await vi.advanceTimersByTimeAsync(0);
    socket.leaderboard({ top: [entry("a", 320, { stage: "hot" })] });
    expect(board.shownTop.value[0]?.current_score).toBe(320);
    await scoring.load();
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.leaderboard).toHaveBeenCalledTimes(2);
    expect(board.shownTop.value[0]).toMatchObject({ stage: "cold" });
    expect(shownScore(board.shownTop.value[0]?.current_score ?? 0)).toBeLessThanOrEqual(80);
    board[Symbol.dispose]();
    scoring[Symbol.dispose]();
  });

  it("reads the table again when a row decays out of its filters", async () => {
    const { api, scoring, leads } = await setup();
    leads.activate();
    leads.setFilter("min_score", "200");
    await vi.advanceTimersByTimeAsync(400);
    const reads = api.listLeads.mock.calls.length;
    // 150 is below 200 as shown (the fake server keeps sending it): the page is read again, at most once a second.
    await vi.advanceTimersByTimeAsync(3000);
    const more = api.listLeads.mock.calls.length - reads;
    expect(more).toBeGreaterThanOrEqual(2);
    expect(more).toBeLessThanOrEqual(4);
    expect(api.listLeads.mock.calls.at(-1)?.[0]).toMatchObject({ min_score: 200 });
    leads[Symbol.dispose]();
    scoring[Symbol.dispose]();
  });

  it("leaves the table alone while every row stays within its filters", async () => {
    const { api, scoring, leads } = await setup();
    leads.activate();
    await vi.advanceTimersByTimeAsync(400);
    const reads = api.listLeads.mock.calls.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.listLeads.mock.calls.length).toBe(reads);
    leads[Symbol.dispose]();
    scoring[Symbol.dispose]();
  });
});
