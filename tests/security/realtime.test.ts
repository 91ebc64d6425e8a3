// A socket costs the realtime server memory for every room it joins and a MongoDB read for every subscribe, and a
// read token is shared by every dashboard of a deployment: what one client may hold must be bounded, and hostile
// requests answered, not crashed on. (Connections per address and browser origins: realtime/test/limits.test.ts;
// read tokens: realtime/test/auth.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, connected, startCluster } from "../../test-support/realtime-cluster.ts";

type Ack = { ok: boolean; error?: string };

describe("when one socket subscribes to more leads than it may", () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster(1, { MAX_SUBSCRIPTIONS_PER_SOCKET: "5" });
  });
  afterAll(() => cluster.stop());

  it("refuses subscriptions past the limit, and takes one again when a slot frees", async () => {
    const socket = cluster.connect(0);
    await connected(socket);
    const subscribe = (leadId: unknown) =>
      socket.timeout(5000).emitWithAck("subscribe", { lead_id: leadId } as { lead_id: string }) as Promise<Ack>;
    for (let i = 0; i < 5; i++) expect(await subscribe(`lead-${i}`)).toEqual({ ok: true });
    // Subscribing again to a lead it holds takes no new slot.
    expect(await subscribe("lead-0")).toEqual({ ok: true });
    const refused = await subscribe("lead-5");
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/too many subscriptions/);
    expect(await socket.timeout(5000).emitWithAck("unsubscribe", { lead_id: "lead-1" })).toEqual({ ok: true });
    expect(await subscribe("lead-5")).toEqual({ ok: true });
  });

  it("answers hostile subscribe requests with an error and stays up", async () => {
    const socket = cluster.connect(0);
    await connected(socket);
    const hostile: unknown[] = [null, 42, "lead", [], { lead_id: { $gt: "" } }, { lead_id: "a".repeat(100_000) }];
    for (const request of hostile) {
      const ack = (await socket.timeout(5000).emitWithAck("subscribe", request as { lead_id: string })) as Ack;
      expect(ack.ok).toBe(false);
    }
    expect(await socket.timeout(5000).emitWithAck("subscribe", { lead_id: "still-fine" })).toEqual({ ok: true });
  });
});
