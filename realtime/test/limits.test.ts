import {
  type ScoreUpdate,
  SUBSCRIBES_IN_FLIGHT,
  type SubscribeAck,
  TOO_MANY_SUBSCRIBES_IN_FLIGHT,
} from "@leadscore/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import {
  type ClientSocket,
  type Cluster,
  connected,
  connectWhenAccepted,
  record,
  startCluster,
  storeScoredLead,
} from "../../test-support/realtime-cluster.ts";
import type { LeadState } from "../src/lead-state.ts";
import {
  allowedOrigins,
  ORIGIN_NOT_ALLOWED,
  SUBSCRIBES_WAITING,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_SUBSCRIPTIONS,
} from "../src/server.ts";
import { countWrites } from "./writes.ts";

const DASHBOARD = "https://dash.example.com";

describe("when clients reach the realtime server", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, { MAX_CONNECTIONS_PER_ADDRESS: "2", CORS_ORIGINS: DASHBOARD });
  });
  afterAll(() => cluster.stop());

  it("refuses connections past the limit per address, and accepts one again when a slot frees", async () => {
    const first = cluster.connect(0);
    const second = cluster.connect(0);
    await Promise.all([connected(first), connected(second)]);

    const third = cluster.connect(0);
    await expect(connected(third)).rejects.toThrow(TOO_MANY_CONNECTIONS);
    expect(third.connected).toBe(false);

    first.disconnect();
    for (const next of await connectWhenAccepted(cluster)) next.disconnect();
    second.disconnect();
  });

  it("refuses a socket from a browser origin that is not allowed", async () => {
    const stranger = cluster.connect(0, { extraHeaders: { origin: "https://evil.example" }, reconnection: false });
    await expect(connected(stranger)).rejects.toThrow();
    expect(stranger.connected).toBe(false);

    const dashboard = cluster.connect(0, { extraHeaders: { origin: DASHBOARD } });
    await connected(dashboard);
    dashboard.disconnect();
  });

  it("answers long-polling handshakes with CORS headers for allowed origins only", async () => {
    const handshake = (origin: string) =>
      fetch(`${cluster.urls[0]}/socket.io/?EIO=4&transport=polling`, { headers: { origin } });

    const refused = await handshake("https://evil.example");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(await refused.text()).toContain(ORIGIN_NOT_ALLOWED);

    const allowed = await handshake(DASHBOARD);
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(DASHBOARD);
    await allowed.text();
  });
});

describe("when no CORS origins are configured", () => {
  it("allows only the dashboard served by the local edge", () => {
    expect(allowedOrigins({ CORS_ORIGINS: [], PORT: 9090 })).toEqual([
      "http://localhost:9090",
      "http://127.0.0.1:9090",
    ]);
    expect(allowedOrigins({ CORS_ORIGINS: [DASHBOARD], PORT: 9090 })).toEqual([DASHBOARD]);
  });
});

const subscribe = (socket: ClientSocket, leadId: string): Promise<SubscribeAck> =>
  socket.timeout(10_000).emitWithAck("subscribe", { lead_id: leadId });

describe("when one socket sends subscribes faster than they are answered", () => {
  let cluster: Cluster;
  /** Snapshot reads started, by lead id; each waits for `release` before answering. */
  const started: string[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  const state: LeadState = {
    async snapshot(leadId) {
      started.push(leadId);
      await gate;
      return null;
    },
    leaderboard: async () => [],
  };
  const hold = () => {
    gate = new Promise<void>((resolve) => {
      release = resolve;
    });
  };

  /** One connection per address: a socket the server takes means it has seen the previous one leave. */
  const connectAlone = async () => ((await connectWhenAccepted(cluster)) as [ClientSocket])[0];

  beforeAll(async () => {
    cluster = await startCluster(1, { MAX_SUBSCRIPTIONS_PER_SOCKET: "8", MAX_CONNECTIONS_PER_ADDRESS: "1" }, { state });
  });
  afterAll(() => cluster.stop());
  beforeEach(() => {
    started.length = 0;
    hold();
  });

  it("runs a few at once, queues a few more and refuses the rest at once", async () => {
    const socket = await connectAlone();
    const queued = SUBSCRIBES_IN_FLIGHT + SUBSCRIBES_WAITING;
    const acks = Array.from({ length: queued + 10 }, (_, i) => subscribe(socket, `burst-${i}`));
    await eventually(async () => started.length === SUBSCRIBES_IN_FLIGHT);
    // 4 running, 16 waiting: the 21st and later are refused while the first reads are still held.
    const refused = await Promise.all(acks.slice(queued));
    expect(refused).toEqual(refused.map(() => ({ ok: false, error: TOO_MANY_SUBSCRIBES_IN_FLIGHT })));
    // The first four, in whatever order their reads began (they run at once).
    expect([...started].sort()).toEqual(["burst-0", "burst-1", "burst-2", "burst-3"]);

    release();
    const answered = await Promise.all(acks.slice(0, queued));
    // In order: the first 8 fill the socket's subscription limit, the rest are over it.
    expect(answered.slice(0, 8)).toEqual(Array.from({ length: 8 }, () => ({ ok: true })));
    expect(answered.slice(8)).toEqual(
      Array.from({ length: queued - 8 }, () => ({ ok: false, error: TOO_MANY_SUBSCRIPTIONS })),
    );
    socket.disconnect();
  });

  it("drops the waiting subscribes of a socket that disconnects", async () => {
    const socket = await connectAlone();
    for (let i = 0; i < 10; i += 1) socket.emit("subscribe", { lead_id: `gone-${i}` });
    await eventually(async () => started.length === SUBSCRIBES_IN_FLIGHT);
    socket.disconnect();
    // The server has seen the disconnect once it takes the next socket, before the running reads finish.
    const next = await connectAlone();
    release();
    // Answered after the released reads ended, which is when the waiting subscribes would have started.
    expect(await subscribe(next, "after")).toEqual({ ok: true });
    expect([...started].sort()).toEqual(["after", "gone-0", "gone-1", "gone-2", "gone-3"]);
    next.disconnect();
  });
});

describe("when one socket subscribes to 1,000 leads at once", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1);
  });
  afterAll(() => cluster.stop());

  it("answers every one at once, serves a few and refuses the rest; sent a few at a time, all get their snapshot", async () => {
    for (let i = 0; i < 1_000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          (i + j) % 10 === 0 ? storeScoredLead(cluster, `many-${i + j}`, 10) : null,
        ),
      );
    }
    const socket = cluster.connect(0);
    const snapshots = record(socket, "score_update");
    await connected(socket);
    const writes = countWrites(Number(new URL(cluster.urls[0] as string).port));
    const burst = await Promise.all(Array.from({ length: 1_000 }, (_, i) => subscribe(socket, `many-${i}`)));
    // Acks of one burst leave together (ws-engine.ts): far fewer writes than the 1,000 acks and their snapshots.
    expect(writes.stop()).toBeLessThan(100);
    // At least the 20 that fit at once are served (more when some finish while the burst is still arriving); every
    // other one is refused at once, none is lost.
    const served = burst.filter((ack) => ack.ok).length;
    expect(served).toBeGreaterThanOrEqual(SUBSCRIBES_IN_FLIGHT + SUBSCRIBES_WAITING);
    expect(served).toBeLessThan(500);
    expect(burst.filter((ack) => ack.error === TOO_MANY_SUBSCRIBES_IN_FLIGHT)).toHaveLength(1_000 - served);
    // As the dashboard does: at most SUBSCRIBES_IN_FLIGHT awaiting their answer.
    const refused = Array.from({ length: 1_000 }, (_, i) => `many-${i}`).filter((_, i) => !burst[i]?.ok);
    for (let from = 0; from < refused.length; from += SUBSCRIBES_IN_FLIGHT) {
      const acks = await Promise.all(
        refused.slice(from, from + SUBSCRIBES_IN_FLIGHT).map((id) => subscribe(socket, id)),
      );
      expect(acks.every((ack) => ack.ok)).toBe(true);
    }
    const leads = snapshots.map((entry) => (entry.payload as ScoreUpdate).lead_id).sort();
    expect(leads).toEqual(Array.from({ length: 100 }, (_, i) => `many-${i * 10}`).sort());
    // Another socket is served at once meanwhile.
    const other = cluster.connect(0);
    await connected(other);
    expect(await subscribe(other, "many-0")).toEqual({ ok: true });
  });
});
