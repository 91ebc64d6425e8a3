// Sockets read live scores, so they need what reads need: a read token (or the admin token) in the handshake's
// `auth: { token }`, checked again on every subscribe.
import { READ_TOKEN_REQUIRED } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_READ_TOKEN } from "../../test-support/index.ts";
import {
  type ClientSocket,
  type Cluster,
  connected,
  connectWhenAccepted,
  record,
  startCluster,
} from "../../test-support/realtime-cluster.ts";

type Ack = { ok: boolean; error?: string };

const subscribe = (socket: ClientSocket, leadId: string) =>
  socket.timeout(5000).emitWithAck("subscribe", { lead_id: leadId }) as Promise<Ack>;

describe("when a socket connects", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, {
      READ_TOKENS: `${TEST_READ_TOKEN},second-read-token`,
      MAX_CONNECTIONS_PER_ADDRESS: "2",
    });
  });
  afterAll(() => cluster.stop());

  it("refuses a handshake without a valid read token, with a named connect_error", async () => {
    const refusals: unknown[] = [
      {},
      { token: "" },
      { token: "test-write-key" },
      { token: `${TEST_READ_TOKEN}x` },
      { token: { $ne: "" } },
      { token: [TEST_READ_TOKEN] },
    ];
    for (const auth of refusals) {
      const socket = cluster.connect(0, { auth: auth as Record<string, unknown>, reconnection: false });
      const leaderboard = record(socket, "leaderboard");
      await expect(connected(socket), JSON.stringify(auth)).rejects.toThrow(READ_TOKEN_REQUIRED);
      expect(socket.connected).toBe(false);
      expect(leaderboard).toEqual([]);
    }
  });

  it("does not count refused sockets against the address's connections", async () => {
    for (let i = 0; i < 3; i++) {
      const stranger = cluster.connect(0, { auth: { token: "wrong-token" }, reconnection: false });
      await expect(connected(stranger)).rejects.toThrow(READ_TOKEN_REQUIRED);
    }
    for (const socket of await connectWhenAccepted(cluster, 2)) socket.disconnect();
  });

  it("accepts any read token, or the admin token, and answers its subscribes", async () => {
    for (const token of [TEST_READ_TOKEN, "second-read-token", "test-admin-token"]) {
      const [socket] = (await connectWhenAccepted(cluster, 1, { auth: { token } })) as [ClientSocket];
      expect(await subscribe(socket, "auth-lead")).toEqual({ ok: true });
      socket.disconnect();
    }
  });
});

describe("when a socket's token stops being valid", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, { READ_TOKENS: `${TEST_READ_TOKEN},rotated-out-token` });
  });
  afterAll(() => cluster.stop());

  it("refuses its next subscribe and disconnects it; other sockets carry on", async () => {
    const leaving = cluster.connect(0, { auth: { token: "rotated-out-token" } });
    const staying = cluster.connect(0);
    await Promise.all([connected(leaving), connected(staying)]);
    expect(await subscribe(leaving, "revoked-lead")).toEqual({ ok: true });

    // The token is taken out of the running server's configuration, as a rotation does.
    cluster.config.READ_TOKENS = [TEST_READ_TOKEN];
    const disconnected = new Promise<string>((resolve) => leaving.once("disconnect", resolve));
    expect(await subscribe(leaving, "another-lead")).toEqual({ ok: false, error: READ_TOKEN_REQUIRED });
    expect(await disconnected).toBe("io server disconnect");

    expect(await subscribe(staying, "another-lead")).toEqual({ ok: true });
    const again = cluster.connect(0, { auth: { token: "rotated-out-token" }, reconnection: false });
    await expect(connected(again)).rejects.toThrow(READ_TOKEN_REQUIRED);
  });
});
