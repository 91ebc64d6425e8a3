import { LEADERBOARD_SIZE, type LeaderboardUpdate } from "@leadscore/contracts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { type Cluster, connected, record, scoreUpdate, startCluster } from "./cluster.ts";

/**
 * The largest number of emits received within any one-second window. Emits leave at least 250 ms apart, but each
 * takes a slightly different time to arrive (Redis, the instance, the socket), so the window is shortened by an
 * allowance for that jitter; with 200 ms between emits it would still hold 5.
 */
function busiestSecond(times: number[], jitterAllowanceMs = 50): number {
  let most = 0;
  for (const [index, start] of times.entries()) {
    most = Math.max(most, times.slice(index).filter((time) => time < start + 1_000 - jitterAllowanceMs).length);
  }
  return most;
}

describe("when score changes arrive faster than the leaderboard may refresh", () => {
  // A cluster per test: each reads a leaderboard of its own leads only.
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await startCluster(2);
  });
  afterEach(() => cluster.stop());

  async function watchers() {
    const sockets = [cluster.connect(0), cluster.connect(1)];
    const received = sockets.map((socket) => record(socket, "leaderboard"));
    await Promise.all(sockets.map(connected));
    // The first update is the one every socket gets on connect, not a broadcast.
    await eventually(async () => received.every((list) => list.length === 1));
    return received.map((list) => ({ updates: () => list.slice(1) }));
  }

  it("emits at most 4 a second across two publishers, the last one showing the final state", async () => {
    const [atA, atB] = await watchers();
    const publishers = [cluster.publisher(), cluster.publisher()];

    const burst = 1_000;
    const parallel = 20;
    for (let start = 0; start < burst; start += parallel) {
      await Promise.all(
        Array.from({ length: parallel }, async (_, offset) => {
          const i = start + offset;
          const leadId = `lead-${i % 25}`;
          await cluster.commitScore(leadId, i, 1_700_000_000_000 + i);
          await publishers[i % 2]?.publish([scoreUpdate(leadId, i, `e-${i}`)]);
        }),
      );
    }
    const final = await cluster.live.leaderboardEntries(LEADERBOARD_SIZE);
    expect(final[0]).toMatchObject({ current_score: burst - 1 });

    const last = (list: { payload: LeaderboardUpdate }[]) => list.at(-1)?.payload.top;
    for (const watcher of [atA, atB]) {
      await eventually(async () => JSON.stringify(last(watcher?.updates() ?? [])) === JSON.stringify(final));
    }

    for (const watcher of [atA, atB]) {
      const updates = watcher?.updates() ?? [];
      expect(updates.length).toBeGreaterThan(1);
      expect(busiestSecond(updates.map((update) => update.at))).toBeLessThanOrEqual(4);
      expect(last(updates)).toEqual(final);
    }
  });

  it("follows a change made while another publisher holds the window with an emit that shows it", async () => {
    const [watcher] = await watchers();
    const [first, second] = [cluster.publisher(), cluster.publisher()];

    // Both at the cap: the lead that reached it first ranks first.
    await cluster.commitScore("early", 1_000, Date.now());
    await first.publish([scoreUpdate("early", 1_000)]);
    await eventually(async () => watcher?.updates().some((update) => update.payload.top[0]?._id === "early"));
    // Within the window `first` just opened: `second` cannot emit now and must come back for it.
    await cluster.commitScore("late", 1_000, Date.now() - 60_000);
    await second.publish([scoreUpdate("late", 1_000)]);

    const shown = await eventually(async () =>
      watcher?.updates().find((update) => update.payload.top[0]?._id === "late"),
    );
    expect(shown.payload.top[1]).toMatchObject({ _id: "early", current_score: 1_000 });
  });
});
