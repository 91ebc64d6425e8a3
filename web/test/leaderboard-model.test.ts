// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { LeaderboardModel, rankEntries } from "../src/leaderboard/model.ts";
import { entry, fakeApi, fakeRealtime, lead, page, settle } from "./fakes.ts";

describe("ranking the leaderboard", () => {
  it("puts the highest score first and keeps the server's order between equal scores", () => {
    const ranked = rankEntries([entry("b", 50), entry("a", 80), entry("c", 50), entry("d", 50)], []);
    expect(ranked.map((row) => [row._id, row.rank])).toEqual([
      ["a", 1],
      ["b", 2],
      ["c", 3],
      ["d", 4],
    ]);
  });

  it("says how many places each lead moved, and who is new", () => {
    const before = rankEntries([entry("a", 90), entry("b", 80), entry("c", 70)], []);
    const after = rankEntries([entry("c", 95), entry("a", 90), entry("d", 85)], before);
    expect(after.map((row) => [row._id, row.movement])).toEqual([
      ["c", 2],
      ["a", -1],
      ["d", null],
    ]);
  });

  it("shows no movement on the first list", () => {
    expect(rankEntries([entry("a", 1)], []).map((row) => row.movement)).toEqual([0]);
  });

  it("keeps at most the limit", () => {
    const many = Array.from({ length: 12 }, (_, i) => entry(`l${i}`, 100 - i));
    expect(rankEntries(many, [], 10)).toHaveLength(10);
  });
});

describe("the leaderboard model", () => {
  it("loads the top leads, then follows the live broadcasts", async () => {
    const api = fakeApi({ leaderboard: async () => [entry("a", 10)] });
    const { socket, realtime } = fakeRealtime();
    const model = new LeaderboardModel({ api, realtime });
    model.activate();
    await settle();
    expect(model.entries.value.map((row) => row._id)).toEqual(["a"]);
    socket.leaderboard({ top: [entry("b", 20), entry("a", 10)] });
    expect(model.entries.value.map((row) => [row._id, row.rank, row.movement])).toEqual([
      ["b", 1, null],
      ["a", 2, -1],
    ]);
  });

  it("lets a broadcast that arrives during the first read win over that read", async () => {
    let answer: (value: ReturnType<typeof entry>[]) => void = () => undefined;
    const api = fakeApi({ leaderboard: () => new Promise((resolve) => (answer = resolve)) });
    const { socket, realtime } = fakeRealtime();
    const model = new LeaderboardModel({ api, realtime });
    model.activate();
    socket.leaderboard({ top: [entry("fresh", 500)] });
    answer([entry("stale", 400)]);
    await settle();
    expect(model.entries.value.map((row) => row._id)).toEqual(["fresh"]);
  });

  it("reports a failed first read", async () => {
    const api = fakeApi({ leaderboard: async () => Promise.reject(new Error("boom")) });
    const model = new LeaderboardModel({ api, realtime: fakeRealtime().realtime });
    model.activate();
    await settle();
    expect(model.status.value).toBe("error");
    expect(model.error.value).toBe("boom");
  });
});

describe("the paged leaderboard", () => {
  it("counts the leads sharing the top score, and pages on in the list's order", async () => {
    const top = Array.from({ length: 10 }, (_, i) => entry(`t${i}`, 1000));
    const api = fakeApi({
      leaderboard: async () => top,
      listLeads: vi.fn(async (query) => {
        if (query.min_score === 1000) return page([lead({ _id: "t0", current_score: 1000 })], 12);
        if (query.cursor === "c2") return page([lead({ _id: "t10", current_score: 1000 })], 12, null);
        return page(
          top.map((item) => lead({ _id: item._id, current_score: 1000 })),
          12,
          "c2",
        );
      }),
    });
    const model = new LeaderboardModel({ api, realtime: fakeRealtime().realtime });
    const stop = model.activate({ paged: true });
    await settle();
    expect(model.tiedAtTop.value).toEqual({ score: 1000, count: 12 });
    expect(model.hasNext.value).toBe(true);
    await model.showNextPage();
    expect(model.pageNumber.value).toBe(2);
    expect(model.entries.value.map((row) => [row._id, row.rank])).toEqual([["t10", 11]]);
    expect(model.top.value).toHaveLength(10);
    await model.showPreviousPage();
    expect(model.entries.value).toHaveLength(10);
    stop();
  });

  it("is not counted for the Top 5", async () => {
    const api = fakeApi({ leaderboard: async () => [entry("a", 1000), entry("b", 1000)] });
    const model = new LeaderboardModel({ api, realtime: fakeRealtime().realtime });
    const stop = model.activate();
    await settle();
    expect(api.listLeads).not.toHaveBeenCalled();
    stop();
  });

  it("stops following the broadcasts once disposed", async () => {
    const api = fakeApi({ leaderboard: async () => [entry("a", 10)] });
    const { socket, realtime, held } = fakeRealtime();
    const model = new LeaderboardModel({ api, realtime });
    model.activate();
    await settle();
    expect(held()).toBe(1);
    model[Symbol.dispose]();
    expect(held()).toBe(0);
    socket.leaderboard({ top: [entry("b", 20), entry("a", 10)] });
    expect(model.entries.value.map((row) => row._id)).toEqual(["a"]);
  });
});
