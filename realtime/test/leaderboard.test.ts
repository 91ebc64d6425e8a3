import { LEADERBOARD_INTERVAL_MS, LEADERBOARD_SIZE, type LeaderboardUpdate } from "@leadscore/contracts";
import type { LeaderboardEmit } from "@leadscore/worker";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { type Cluster, connected, record, scoreUpdate, startCluster } from "../../test-support/realtime-cluster.ts";

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

  it("spaces its emits by the interval on Redis's clock across two publishers, far fewer than the changes, the last one showing the final state", async () => {
    const [atA, atB] = await watchers();
    const emits: LeaderboardEmit[] = [];
    const onLeaderboardEmit = (emit: LeaderboardEmit) => emits.push(emit);
    const publishers = [cluster.publisher({ onLeaderboardEmit }), cluster.publisher({ onLeaderboardEmit })];

    const burst = 1_000;
    const rounds = 10;
    const parallel = 20;
    for (let round = 0; round < rounds; round += 1) {
      const emitted = emits.length;
      for (let start = (round * burst) / rounds; start < ((round + 1) * burst) / rounds; start += parallel) {
        await Promise.all(
          Array.from({ length: parallel }, async (_, offset) => {
            const i = start + offset;
            const leadId = `lead-${i % 25}`;
            await cluster.commitScore(leadId, i, 1_700_000_000_000 + i);
            await publishers[i % 2]?.publish([scoreUpdate(leadId, i, `e-${i}`)]);
          }),
        );
      }
      // A round is answered by an emit before the next begins, so both publishers contend for ten windows or more.
      await eventually(async () => emits.length > emitted);
    }
    const final = await cluster.live.leaderboardEntries(LEADERBOARD_SIZE);
    expect(final[0]).toMatchObject({ current_score: burst - 1 });

    const last = (list: { payload: LeaderboardUpdate }[]) => list.at(-1)?.payload.top;
    for (const watcher of [atA, atB]) {
      await eventually(async () => JSON.stringify(last(watcher?.updates() ?? [])) === JSON.stringify(final));
    }
    // Stopped, they emit no more, so what the dashboards received can be held against what the publishers sent.
    await Promise.all(publishers.map((publisher) => publisher.close()));

    // The lock times out on Redis's clock, and each publisher reports the server time at which it won the lock for an
    // emit, so the spacing is read from there rather than from when the emits happened to arrive here.
    const granted = emits.toSorted((a, b) => a.grantedAt - b.grantedAt);
    const gaps = granted.slice(1).map((emit, index) => emit.grantedAt - (granted[index]?.grantedAt ?? 0));
    expect(gaps.filter((gap) => gap < LEADERBOARD_INTERVAL_MS)).toEqual([]);
    // One emit per change would be 1,000; 100 at the interval would take 25 s, close to the test's own timeout.
    expect(granted.length).toBeGreaterThan(1);
    expect(granted.length).toBeLessThan(burst / 10);

    // Every emit a dashboard received is one of those, in the order the lock was won: none went around it.
    for (const watcher of [atA, atB]) {
      await eventually(async () => (watcher?.updates().length ?? 0) >= granted.length);
      expect(watcher?.updates().map((update) => update.payload)).toEqual(granted.map((emit) => emit.update));
      expect(last(watcher?.updates() ?? [])).toEqual(final);
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
