import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { allowedOrigins, ORIGIN_NOT_ALLOWED, TOO_MANY_CONNECTIONS } from "../src/server.ts";
import { type Cluster, connected, startCluster } from "./cluster.ts";

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
    await eventually(async () => {
      const next = cluster.connect(0);
      try {
        await connected(next);
        return true;
      } finally {
        next.disconnect();
      }
    });
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
