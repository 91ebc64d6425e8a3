import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import type { RunningProcess } from "../../test-support/processes.ts";
import {
  type Cluster,
  type ClusterWorker,
  connected,
  record,
  startCluster,
  startClusterWorker,
} from "../../test-support/realtime-cluster.ts";

describe("when a worker process scores a queued event", () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let scoring: ClusterWorker;
  beforeAll(async () => {
    cluster = await startCluster(2);
    scoring = await startClusterWorker(cluster);
    worker = scoring.worker;
  });
  afterAll(async () => {
    await scoring?.stop();
    await cluster?.stop();
  });

  it("delivers the new score to a client of another instance, then the leaderboard, and stops cleanly on SIGTERM", async () => {
    const dashboard = cluster.connect(1);
    const updates = record(dashboard, "score_update");
    const boards = record(dashboard, "leaderboard");
    await connected(dashboard);
    expect(await dashboard.emitWithAck("subscribe", { lead_id: "e2e-lead" })).toEqual({ ok: true });

    const now = Date.now();
    const event = { lead_id: "e2e-lead", received_at: now, metadata: {} };
    await scoring.queue.add({
      v: 1,
      events: [
        { ...event, event_id: "e2e-1", event_type: "purchase", timestamp: now - 2_000 },
        { ...event, event_id: "e2e-2", event_type: "demo_request", timestamp: now - 1_000 },
      ],
    });

    const final = await eventually(async () => updates.find((update) => update.payload.current_score === 150));
    expect(final.payload).toMatchObject({ lead_id: "e2e-lead", stage: "warm", event_id: "e2e-2" });
    const board = await eventually(async () => boards.find((entry) => entry.payload.top[0]?._id === "e2e-lead"));
    expect(board.payload.top[0]).toMatchObject({ current_score: 150, stage: "warm" });
    // One test: the worker that scored is the one stopped.
    expect(await worker.stop("SIGTERM")).toBe(0);
  });
});
