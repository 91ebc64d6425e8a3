// With decay on, what a dashboard is sent without an event is the score at the instant it is sent: the subscribe's
// snapshot and the leaderboard push carry the score decayed from the lead's last event, not the one stored then. The
// realtime tier reads no MongoDB: it decays with Redis's copy of the scoring settings, which the worker keeps.
import { decayedScore, mongoDatabaseName } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { scoringChannel, writeScoringSettings } from "@leadscore/runtime";
import { MongoClient } from "mongodb";
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

const H = 5;

describe("when decay is on with a half-life of 5 s", () => {
  let cluster: Cluster;
  let scoring: ClusterWorker;
  let mongo: MongoClient;

  beforeAll(async () => {
    cluster = await startCluster(1);
    mongo = await MongoClient.connect(cluster.mongoUrl);
    await writeScoringSettings(mongo.db(mongoDatabaseName(cluster.mongoUrl)), { half_life_seconds: H }, new Date());
    scoring = await startClusterWorker(cluster);
    // The worker has copied the settings into Redis; announced as the admin API announces a change.
    await cluster.redis.publish(scoringChannel(cluster.config.REDIS_PREFIX), "{}");
  });

  afterAll(async () => {
    await scoring?.stop();
    await mongo?.close();
    await cluster?.stop();
  });

  it("sends the subscribe's snapshot and the leaderboard with the score decayed to the instant they are read", async () => {
    const dashboard = cluster.connect(0);
    const boards = record(dashboard, "leaderboard");
    const updates = record(dashboard, "score_update");
    await connected(dashboard);

    const at = Date.now() - 1_000;
    const event = { lead_id: "dk-lead", received_at: Date.now(), metadata: {} };
    const types = ["purchase", "purchase", "purchase", "form_submission"];
    await scoring.queue.add({
      v: 1,
      events: types.map((type, i) => ({ ...event, event_id: `dk-${i}`, event_type: type, timestamp: at + i })),
    });
    const lead = liveKeys(cluster.config.REDIS_PREFIX).lead("dk-lead");
    const [stored, lastEventAt] = await eventually(async () => {
      const [score, last] = await cluster.redis.hmget(lead, "s", "le");
      return score && last && Number(score) > 300 ? [Number(score), Number(last)] : undefined;
    });
    /** The score's range over the instants from its last event to now: what a read made before now may show. */
    const expectDecayedBetweenNowAnd = (score: number, since: number) => {
      expect(score).toBeLessThan(decayedScore(stored, lastEventAt, since, H));
      expect(score).toBeGreaterThanOrEqual(decayedScore(stored, lastEventAt, Date.now(), H));
    };

    const board = await eventually(async () => boards.find((entry) => entry.payload.top[0]?._id === "dk-lead"));
    expectDecayedBetweenNowAnd(board.payload.top[0]?.current_score as number, lastEventAt + 1);

    const subscribedAt = Date.now();
    expect(await dashboard.emitWithAck("subscribe", { lead_id: "dk-lead" })).toEqual({ ok: true });
    const snapshot = await eventually(async () => updates.find((update) => update.payload.snapshot === true));
    expectDecayedBetweenNowAnd(snapshot.payload.current_score, subscribedAt);
    // 320 decays below 300 within 0.47 s, and the snapshot is taken later than that.
    expect(snapshot.payload.stage).toBe("warm");
  });
});
