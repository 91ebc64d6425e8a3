import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  type Cluster,
  type ClusterWorker,
  connected,
  record,
  startCluster,
  startClusterWorker,
} from "../../test-support/realtime-cluster.ts";

describe("when a lead a dashboard watches is merged into another", () => {
  let cluster: Cluster;
  let scoring: ClusterWorker;
  beforeAll(async () => {
    cluster = await startCluster(2);
    scoring = await startClusterWorker(cluster);
  });
  afterAll(async () => {
    await scoring?.stop();
    await cluster?.stop();
  });

  it("tells the anonymous lead's subscribers which lead to follow, and that lead's updates reach them", async () => {
    const dashboard = cluster.connect(1);
    const merged = record(dashboard, "lead_merged");
    const updates = record(dashboard, "score_update");
    await connected(dashboard);
    expect(await dashboard.emitWithAck("subscribe", { lead_id: "anon-s" })).toEqual({ ok: true });
    const now = Date.now();
    const view = (lead_id: string, event_id: string, ago: number) => ({
      lead_id,
      event_id,
      event_type: "page_view",
      timestamp: now - ago,
      received_at: now,
      metadata: {},
    });
    await scoring.queue.add({ v: 1, events: [view("anon-s", "s1", 3_000), view("anon-s", "s2", 2_000)] });
    await eventually(async () => updates.some((update) => update.payload.current_score === 10));

    await scoring.queue.add({ v: 1, events: [], merges: [{ from: "anon-s", into: "sam", kind: "identify", at: now }] });
    const heard = await eventually(async () => merged[0]);
    expect(heard.payload).toEqual({ lead_id: "anon-s", into: "sam" });
    expect(merged).toHaveLength(1);

    // The dashboard follows the lead it was told; an event sent as the anonymous id reaches it as Sam's.
    expect(await dashboard.emitWithAck("subscribe", { lead_id: heard.payload.into })).toEqual({ ok: true });
    await scoring.queue.add({ v: 1, events: [view("anon-s", "s3", 1_000)] });
    const followed = await eventually(async () => updates.find((update) => update.payload.event_id === "s3"));
    expect(followed.payload).toMatchObject({ lead_id: "sam", current_score: 15, event_id: "s3" });
  });
});
