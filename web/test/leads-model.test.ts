// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  applyScoreUpdate,
  EMPTY_FILTERS,
  filterErrors,
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  LeadsModel,
} from "../src/leads/model.ts";
import { leadQueryString } from "../src/lib/api.ts";
import { entry, fakeApi, fakeRealtime, lead, page, scoreUpdate } from "./fakes.ts";

describe("filters", () => {
  it("become the API query string, numbers parsed and blanks dropped", () => {
    const filters = { ...EMPTY_FILTERS, min_score: "100", max_score: " 600 ", stage: "hot" as const, q: "ada" };
    expect(leadQueryString(filtersToQuery(filters, "c2", 25))).toBe(
      "?min_score=100&max_score=600&stage=hot&q=ada&sort=-score&limit=25&cursor=c2",
    );
  });

  it("survive a trip through the page URL", () => {
    const filters = { ...EMPTY_FILTERS, company: "Acme", stage: "warm" as const, sort: "-updated_at" as const };
    expect(filtersToSearch(filters)).toBe("?stage=warm&company=Acme&sort=-updated_at");
    expect(filtersFromSearch(filtersToSearch(filters))).toEqual(filters);
  });

  it("ignore unknown stages and sorts in the URL", () => {
    expect(filtersFromSearch("?stage=lukewarm&sort=name")).toEqual(EMPTY_FILTERS);
  });

  it("name a bound that is not a whole number, or a range that is upside down", () => {
    expect(filterErrors({ ...EMPTY_FILTERS, min_score: "ten" })).toEqual({ min_score: expect.any(String) });
    expect(filterErrors({ ...EMPTY_FILTERS, min_score: "500", max_score: "100" })).toEqual({
      max_score: "Must be at least the minimum score",
    });
    expect(filterErrors({ ...EMPTY_FILTERS, min_score: "0", max_score: "0" })).toEqual({});
  });
});

describe("a live score update", () => {
  const rows = [lead({ _id: "a", current_score: 50 }), lead({ _id: "b", current_score: 20 })];

  it("changes the score and stage of the row it names", () => {
    const next = applyScoreUpdate(rows, scoreUpdate({ lead_id: "b", current_score: 120, stage: "warm" }));
    expect(next?.map((row) => [row._id, row.current_score, row.stage])).toEqual([
      ["a", 50, "cold"],
      ["b", 120, "warm"],
    ]);
  });

  it("keeps the newest event time when a late event arrives", () => {
    const next = applyScoreUpdate(rows, scoreUpdate({ lead_id: "a", timestamp: "2024-06-01T00:00:00.000Z" }));
    expect(next?.[0]?.last_event_at).toBe(rows[0]?.last_event_at);
  });

  it("leaves the rows alone when the lead is not among them", () => {
    expect(applyScoreUpdate(rows, scoreUpdate({ lead_id: "zzz" }))).toBeNull();
  });
});

describe("the leads model", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup(search = "") {
    const api = fakeApi();
    const { socket, realtime, held } = fakeRealtime();
    let url = search;
    const model = new LeadsModel({ api, realtime, url: { read: () => url, write: (next) => (url = next) } });
    return { api, socket, realtime, held, model, url: () => url };
  }

  it("loads the first page with the filters from the URL", async () => {
    const { api, model } = setup("?stage=hot");
    api.listLeads.mockResolvedValueOnce(page([lead({ _id: "a", stage: "hot" })], 1));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listLeads).toHaveBeenCalledWith(expect.objectContaining({ stage: "hot", cursor: null }));
    expect(model.status.value).toBe("ready");
    expect(model.leads.value.map((row) => row._id)).toEqual(["a"]);
    expect(model.total.value).toBe(1);
  });

  it("waits for typing to pause before searching, then writes the filters to the URL", async () => {
    const { api, model, url } = setup();
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.listLeads.mockClear();
    model.setFilter("q", "a");
    model.setFilter("q", "ad");
    model.setFilter("q", "ada");
    await vi.advanceTimersByTimeAsync(299);
    expect(api.listLeads).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(api.listLeads).toHaveBeenCalledTimes(1);
    expect(api.listLeads).toHaveBeenLastCalledWith(expect.objectContaining({ q: "ada" }));
    expect(url()).toBe("?q=ada");
  });

  it("leaves an invalid bound out of the query while it is being corrected", async () => {
    const { api, model } = setup();
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    model.setFilter("company", "Acme");
    await vi.advanceTimersByTimeAsync(500);
    api.listLeads.mockClear();
    model.setFilter("min_score", "abc");
    await vi.advanceTimersByTimeAsync(500);
    expect(model.errors.value.min_score).toBe("Enter a whole number of 0 or more");
    // Clearing another filter still refreshes the rows.
    model.setFilter("company", "");
    await vi.advanceTimersByTimeAsync(500);
    expect(api.listLeads).toHaveBeenLastCalledWith(expect.objectContaining({ company: null, min_score: null }));
  });

  it("takes the rows of another page away while it loads", async () => {
    const { api, model } = setup();
    api.listLeads.mockResolvedValueOnce(page([lead({ _id: "a" })], 2, "cursor-2"));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    let answer: (value: ReturnType<typeof page<ReturnType<typeof lead>>>) => void = () => undefined;
    api.listLeads.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    model.showNextPage();
    expect(model.leads.value).toEqual([]);
    expect(model.status.value).toBe("loading");
    answer(page([lead({ _id: "b" })], 2, null));
    await vi.advanceTimersByTimeAsync(0);
    expect(model.leads.value.map((row) => row._id)).toEqual(["b"]);
  });

  it("pages forward with the Link cursor and back to the first page", async () => {
    const { api, model } = setup();
    api.listLeads.mockResolvedValueOnce(page([lead({ _id: "a" })], 2, "cursor-2"));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.hasNext.value).toBe(true);
    api.listLeads.mockResolvedValueOnce(page([lead({ _id: "b" })], 2, null));
    model.showNextPage();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listLeads).toHaveBeenLastCalledWith(expect.objectContaining({ cursor: "cursor-2" }));
    expect(model.leads.value.map((row) => row._id)).toEqual(["b"]);
    expect(model.pageNumber.value).toBe(2);
    expect(model.hasNext.value).toBe(false);
    model.showPreviousPage();
    await vi.advanceTimersByTimeAsync(0);
    expect(api.listLeads).toHaveBeenLastCalledWith(expect.objectContaining({ cursor: null }));
    expect(model.hasPrevious.value).toBe(false);
  });

  it("subscribes to the rows shown and applies their updates at once", async () => {
    const { api, socket, model } = setup();
    api.listLeads.mockResolvedValue(page([lead({ _id: "a", current_score: 50 })], 1));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(socket.sent).toContainEqual({ event: "subscribe", request: { lead_id: "a" } });
    socket.scoreUpdate(scoreUpdate({ lead_id: "a", current_score: 150, stage: "warm" }));
    expect(model.leads.value[0]).toMatchObject({ current_score: 150, stage: "warm" });
    expect(model.flashes.value).toEqual({ a: "up" });
  });

  it("re-reads the page after live activity, at most once a second", async () => {
    const { api, socket, model } = setup();
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.listLeads.mockClear();
    api.listLeads.mockResolvedValue(page([lead({ _id: "new-lead", current_score: 60 })], 1));
    for (let i = 0; i < 5; i++) socket.leaderboard({ top: [entry("new-lead", 60)] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.listLeads).toHaveBeenCalledTimes(1);
    expect(model.leads.value.map((row) => row._id)).toEqual(["new-lead"]);
  });

  it("keeps the rows shown when a background refresh fails", async () => {
    const { api, socket, model } = setup();
    api.listLeads.mockResolvedValueOnce(page([lead({ _id: "a" })], 1));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    api.listLeads.mockRejectedValueOnce(new Error("down"));
    socket.leaderboard({ top: [] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(model.status.value).toBe("ready");
    expect(model.leads.value).toHaveLength(1);
  });

  it("shows an error when the first read fails", async () => {
    const { api, model } = setup();
    api.listLeads.mockRejectedValueOnce(new Error("the server could not be reached"));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    expect(model.status.value).toBe("error");
    expect(model.error.value).toBe("the server could not be reached");
  });

  it("releases its subscriptions when deactivated", async () => {
    const { api, socket, model } = setup();
    api.listLeads.mockResolvedValue(page([lead({ _id: "a" })], 1));
    const stop = model.activate();
    await vi.advanceTimersByTimeAsync(0);
    stop();
    // The rooms are let go a microtask later (see the model), so rows still shown keep theirs.
    await Promise.resolve();
    expect(socket.sent).toContainEqual({ event: "unsubscribe", request: { lead_id: "a" } });
  });

  it("stops reacting once disposed: no score listener, no room, no timer left", async () => {
    const { api, socket, held, model } = setup();
    api.listLeads.mockResolvedValue(page([lead({ _id: "a", current_score: 5 })], 1));
    model.activate();
    await vi.advanceTimersByTimeAsync(0);
    socket.scoreUpdate(scoreUpdate({ lead_id: "a", current_score: 7 }));
    model.setFilter("q", "ad");
    expect(model.flashes.value).toEqual({ a: "up" });
    await Promise.resolve();
    expect(held()).toBe(3);
    model[Symbol.dispose]();
    await Promise.resolve();
    expect(vi.getTimerCount()).toBe(0);
    expect(held()).toBe(0);
    expect(socket.sent).toContainEqual({ event: "unsubscribe", request: { lead_id: "a" } });
    socket.scoreUpdate(scoreUpdate({ lead_id: "a", current_score: 9 }));
    expect(model.leads.value[0]?.current_score).toBe(7);
    const reads = api.listLeads.mock.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(api.listLeads).toHaveBeenCalledTimes(reads);
  });
});
