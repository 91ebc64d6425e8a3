import { EVENTS_QUEUE, type EventsJob } from "@leadscore/runtime";
import Queue from "bull";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { NODE_TS, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { type Cluster, connected, record, startCluster } from "../../test-support/realtime-cluster.ts";

describe("when a worker process scores a queued event", () => {
  let cluster: Cluster;
  let worker: RunningProcess;
  let queue: Queue.Queue<EventsJob>;
  beforeAll(async () => {
    cluster = await startCluster(2);
    // Node itself, not the tsx launcher, which kills its child 30 ms after passing on a signal.
    worker = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/main.ts"], {
      NODE_ENV: "test",
      REDIS_URL,
      MONGO_URL: cluster.mongoUrl,
      REDIS_PREFIX: cluster.config.REDIS_PREFIX,
      LOG_LEVEL: "info",
    });
    await worker.waitFor(/worker ready/, 60_000);
    queue = new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix: cluster.config.REDIS_PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    await worker?.stop();
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
    await queue.add({
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
