import type { SubscribeAck } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  type ClientSocket,
  type Cluster,
  connected,
  record,
  scoreUpdate,
  startCluster,
  storeScoredLead,
} from "../../test-support/realtime-cluster.ts";

function subscribe(socket: ClientSocket, leadId: unknown): Promise<SubscribeAck> {
  return socket.timeout(5_000).emitWithAck("subscribe", { lead_id: leadId as string });
}

describe("when the worker publishes a score change through Redis", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(2);
  });
  afterAll(() => cluster.stop());

  it("reaches a client of the other instance subscribed to the lead, and no one else", async () => {
    const onB = cluster.connect(1);
    const otherLead = cluster.connect(0);
    await Promise.all([connected(onB), connected(otherLead)]);
    expect(await subscribe(onB, "lead-a")).toEqual({ ok: true });
    expect(await subscribe(otherLead, "lead-b")).toEqual({ ok: true });
    const atB = record(onB, "score_update");
    const atOther = record(otherLead, "score_update");

    const update = await cluster.commitScore("lead-a", 50);

    await eventually(async () => atB.length === 1);
    expect(atB[0]?.payload).toEqual(update);
    // Published after it through the same channel: once this reaches the other client, a stray copy of the first
    // would have reached it before.
    const later = await cluster.commitScore("lead-b", 60);
    await eventually(async () => atOther.length > 0);
    expect(atOther.map((entry) => entry.payload)).toEqual([later]);
    expect(atB).toHaveLength(1);
  });

  it("stops reaching a client once it unsubscribes", async () => {
    const socket = cluster.connect(0);
    await connected(socket);
    await subscribe(socket, "lead-c");
    const received = record(socket, "score_update");
    await cluster.commitScore("lead-c", 10);
    await eventually(async () => received.length === 1);

    expect(await socket.emitWithAck("unsubscribe", { lead_id: "lead-c" })).toEqual({ ok: true });
    expect(await subscribe(socket, "lead-c-next")).toEqual({ ok: true });
    await cluster.commitScore("lead-c", 20);
    // Published after the change it must not receive: once this arrives, that one would have arrived before.
    await cluster.commitScore("lead-c-next", 30);
    await eventually(async () => received.length > 1);
    expect(received.map((entry) => [entry.payload.lead_id, entry.payload.current_score])).toEqual([
      ["lead-c", 10],
      ["lead-c-next", 30],
    ]);
  });

  it("refreshes the leaderboard of clients on every instance", async () => {
    await storeScoredLead(cluster, "leader", 900);
    const onA = cluster.connect(0);
    const onB = cluster.connect(1);
    const atA = record(onA, "leaderboard");
    const atB = record(onB, "leaderboard");
    await Promise.all([connected(onA), connected(onB)]);
    // The leaderboard a socket gets on connect may predate the stored lead; wait for it before publishing.
    await eventually(async () => atA.length > 0 && atB.length > 0);
    const before = { a: atA.length, b: atB.length };

    await cluster.publisher().publish([scoreUpdate("leader", 900)]);

    for (const [received, count] of [
      [atA, before.a],
      [atB, before.b],
    ] as const) {
      const update = await eventually(async () => received[count]?.payload);
      expect(update.top[0]).toMatchObject({ _id: "leader", current_score: 900, stage: "qualified" });
    }
  });
});

describe("when a client subscribes", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1);
  });
  afterAll(() => cluster.stop());

  it("refuses an invalid lead_id with a reason", async () => {
    const socket = cluster.connect(0);
    await connected(socket);
    for (const leadId of ["", "has space", "x".repeat(129), 42, undefined]) {
      const ack = await subscribe(socket, leadId);
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatch(/^lead_id /);
    }
  });

  it("sends the lead's current state as a snapshot", async () => {
    const timestamp = new Date("2025-01-02T03:04:05.000Z");
    await storeScoredLead(cluster, "known", 320, {
      event_id: "evt-9",
      event_type: "demo_request",
      delta: 50,
      timestamp,
    });
    const socket = cluster.connect(0);
    const received = record(socket, "score_update");
    await connected(socket);

    expect(await subscribe(socket, "known")).toEqual({ ok: true });
    expect(received.map((entry) => entry.payload)).toEqual([
      {
        lead_id: "known",
        current_score: 320,
        delta: 50,
        stage: "hot",
        event_id: "evt-9",
        event_type: "demo_request",
        timestamp: timestamp.toISOString(),
        snapshot: true,
      },
    ]);
  });

  it("sends no snapshot for a lead that has not been scored yet", async () => {
    const socket = cluster.connect(0);
    const received = record(socket, "score_update");
    await connected(socket);
    expect(await subscribe(socket, "unknown")).toEqual({ ok: true });
    expect(received).toEqual([]);
  });

  it("gets the current state again after reconnecting, by resubscribing on connect", async () => {
    await storeScoredLead(cluster, "returning", 100);
    const socket = cluster.connect(0, { reconnectionDelay: 50, reconnectionDelayMax: 100 });
    const received = record(socket, "score_update");
    // As the dashboard does: (re)subscribe on every connect.
    socket.on("connect", () => {
      socket.emit("subscribe", { lead_id: "returning" });
    });
    await connected(socket);
    await eventually(async () => received.length === 1);

    // A change this client is not told about (nothing is published): only resubscribing can bring it.
    await storeScoredLead(cluster, "returning", 260, {
      event_id: "returning-e2",
      event_type: "form_submission",
      delta: 160,
      timestamp: new Date(),
    });
    const reconnected = new Promise<void>((resolve) => socket.io.once("reconnect", () => resolve()));
    // Drop the transport, as a network failure would; the client reconnects by itself.
    socket.io.engine.close();
    await reconnected;

    const latest = await eventually(async () => received[1]?.payload);
    expect(latest).toMatchObject({
      lead_id: "returning",
      current_score: 260,
      event_id: "returning-e2",
      snapshot: true,
    });
  });
});
