import type { ScoreUpdate, SubscribeAck } from "@leadscore/contracts";
import { SUBSCRIBES_IN_FLIGHT } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  type ClientSocket,
  type Cluster,
  connected,
  record,
  startCluster,
} from "../../test-support/realtime-cluster.ts";

const SLOTS = 10;

describe("when 1,000 clients drop during the handshake", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, { MAX_CONNECTIONS_PER_ADDRESS: String(SLOTS) });
  });
  afterAll(() => cluster.stop());

  /** A client that sends its Socket.io CONNECT (with its token) and closes the connection straight after. */
  function dropDuringHandshake(): Promise<void> {
    const socket = cluster.connect(0, { reconnection: false });
    return new Promise((resolve) => {
      // The socket's own "open" listener, registered first, has written the CONNECT packet; then the transport goes.
      socket.io.once("open", () => socket.io.engine.close());
      socket.io.once("close", () => resolve());
      socket.once("connect", () => {
        socket.disconnect();
        resolve();
      });
    });
  }

  it("gives back every connection slot: the address can then open all of them", async () => {
    // In waves that fit the limit, so no drop is refused for want of a slot rather than dropped mid-handshake.
    for (let wave = 0; wave < 1000 / SLOTS; wave++) {
      await Promise.all(Array.from({ length: SLOTS }, dropDuringHandshake));
    }
    // Every slot free again (the server sees the last closes a moment after the clients do): all SLOTS connect.
    const sockets = await eventually(async () => {
      const attempt = Array.from({ length: SLOTS }, () => cluster.connect(0, { reconnection: false }));
      const results = await Promise.allSettled(attempt.map(connected));
      if (results.every((result) => result.status === "fulfilled")) return attempt;
      for (const socket of attempt) socket.disconnect();
      return null;
    }, 5_000);
    expect(sockets.every((socket) => socket.connected)).toBe(true);
    const extra = cluster.connect(0, { reconnection: false });
    await expect(connected(extra)).rejects.toThrow();
    for (const socket of sockets) socket.disconnect();
  }, 120_000);
});

describe("when a socket subscribes to a lead and unsubscribes straight after", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1);
  });
  afterAll(() => cluster.stop());

  const request = (socket: ClientSocket, event: "subscribe" | "unsubscribe", leadId: string) =>
    new Promise<SubscribeAck>((resolve) => socket.emit(event, { lead_id: leadId }, resolve));

  it("takes them in the order sent: the lead's updates no longer arrive", async () => {
    const socket = cluster.connect(0);
    await connected(socket);
    const updates = record(socket, "score_update");
    // Pairs for several leads at once, so subscribes and unsubscribes of different leads run side by side.
    const leads = Array.from({ length: SUBSCRIBES_IN_FLIGHT * 2 }, (_, i) => `pair-${i}`);
    const acks = await Promise.all(
      leads.flatMap((lead) => [request(socket, "subscribe", lead), request(socket, "unsubscribe", lead)]),
    );
    expect(acks).toEqual(acks.map(() => ({ ok: true })));
    expect(await request(socket, "subscribe", "kept")).toEqual({ ok: true });

    for (const lead of leads) await cluster.commitScore(lead, 10);
    const last: ScoreUpdate = await cluster.commitScore("kept", 20);
    // Published after every pair's update on the same channel: once it is here, theirs would have been too.
    await eventually(async () => updates.some(({ payload }) => payload.event_id === last.event_id));
    expect(updates.map(({ payload }) => payload.lead_id)).toEqual(["kept"]);
    socket.disconnect();
  });
});
