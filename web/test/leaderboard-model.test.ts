// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { createLeaderboardModel, rankEntries } from "../src/leaderboard/model.ts";
import { entry, fakeApi, fakeRealtime, settle } from "./fakes.ts";

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
    const model = createLeaderboardModel({ api, realtime });
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
    const model = createLeaderboardModel({ api, realtime });
    model.activate();
    socket.leaderboard({ top: [entry("fresh", 500)] });
    answer([entry("stale", 400)]);
    await settle();
    expect(model.entries.value.map((row) => row._id)).toEqual(["fresh"]);
  });

  it("reports a failed first read", async () => {
    const api = fakeApi({ leaderboard: async () => Promise.reject(new Error("boom")) });
    const model = createLeaderboardModel({ api, realtime: fakeRealtime().realtime });
    model.activate();
    await settle();
    expect(model.status.value).toBe("error");
    expect(model.error.value).toBe("boom");
  });
});
