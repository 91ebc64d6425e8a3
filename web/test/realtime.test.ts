// @vitest-environment happy-dom
import { READ_TOKEN_REQUIRED, TOO_MANY_SUBSCRIBES_IN_FLIGHT } from "@leadscore/contracts/socket";
import { describe, expect, it, vi } from "vitest";
import { resolveRealtimeUrl } from "../src/lib/realtime.ts";
import { fakeRealtime, scoreUpdate } from "./fakes.ts";

describe("the realtime connection", () => {
  it("joins a lead's room once however many views subscribe, and leaves when the last one goes", () => {
    const { socket, realtime } = fakeRealtime();
    const first = realtime.subscribe("a");
    const second = realtime.subscribe("a");
    expect(socket.sent).toEqual([{ event: "subscribe", request: { lead_id: "a" } }]);
    first();
    first();
    expect(socket.sent).toHaveLength(1);
    second();
    expect(socket.sent).toEqual([
      { event: "subscribe", request: { lead_id: "a" } },
      { event: "unsubscribe", request: { lead_id: "a" } },
    ]);
  });

  it("has at most a few requests awaiting the server's answer, and sends one refused as too many again", () => {
    vi.useFakeTimers();
    try {
      const { socket, realtime } = fakeRealtime();
      socket.holdAnswers = true;
      for (const id of ["a", "b", "c", "d", "e", "f"]) realtime.subscribe(id);
      expect(socket.sent.map((sent) => sent.request.lead_id)).toEqual(["a", "b", "c", "d"]);
      socket.answer({ ok: false, error: TOO_MANY_SUBSCRIBES_IN_FLIGHT });
      expect(socket.sent.map((sent) => sent.request.lead_id)).toEqual(["a", "b", "c", "d", "e"]);
      socket.answer();
      socket.answer();
      socket.answer();
      socket.answer();
      expect(socket.sent.map((sent) => sent.request.lead_id)).toEqual(["a", "b", "c", "d", "e", "f"]);
      vi.advanceTimersByTime(1_000);
      // The refused one went out again after a pause.
      expect(socket.sent.map((sent) => sent.request.lead_id)).toEqual(["a", "b", "c", "d", "e", "f", "a"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("joins the rooms again after a reconnect", () => {
    const { socket, realtime } = fakeRealtime();
    realtime.subscribe("a");
    realtime.subscribe("b");
    socket.serverDisconnect();
    expect(realtime.status.value).toBe("offline");
    socket.sent.length = 0;
    socket.serverConnect();
    expect(realtime.status.value).toBe("live");
    expect(socket.sent.map((sent) => sent.request.lead_id).sort()).toEqual(["a", "b"]);
  });

  it("ends the session when the server refuses the socket's token, and only then", () => {
    const onUnauthorized = vi.fn();
    const { socket, realtime } = fakeRealtime(false, onUnauthorized);
    socket.serverRefuse("too many connections from this address");
    expect(onUnauthorized).not.toHaveBeenCalled();
    socket.serverRefuse(READ_TOKEN_REQUIRED);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(realtime.status.value).toBe("offline");
  });

  it("connects again when the server hangs up, to learn whether the token still reads", () => {
    const { socket } = fakeRealtime();
    socket.serverDisconnect("transport close");
    expect(socket.connects).toBe(0);
    socket.serverDisconnect("io server disconnect");
    expect(socket.connects).toBe(1);
  });

  it("sends nothing while disconnected, and subscribes on connect", () => {
    const { socket, realtime } = fakeRealtime(false);
    expect(realtime.status.value).toBe("connecting");
    realtime.subscribe("a");
    expect(socket.sent).toHaveLength(0);
    socket.serverConnect();
    expect(socket.sent).toEqual([{ event: "subscribe", request: { lead_id: "a" } }]);
  });

  it("tells the top sent on the first connection and on a reconnection from a change", () => {
    const { socket, realtime } = fakeRealtime(false);
    const reasons: string[] = [];
    realtime.onLeaderboard((_, reason) => reasons.push(reason));
    socket.serverConnect();
    socket.leaderboard({ top: [] });
    socket.serverDisconnect();
    socket.serverConnect();
    socket.leaderboard({ top: [] });
    expect(reasons).toEqual(["initial", "change", "resync", "change"]);
  });

  it("hands score updates to every listener until it stops listening", () => {
    const { socket, realtime } = fakeRealtime();
    const listener = vi.fn();
    const stop = realtime.onScoreUpdate(listener);
    const update = scoreUpdate({ lead_id: "a" });
    socket.scoreUpdate(update);
    stop();
    socket.scoreUpdate(update);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith(update);
  });
});

describe("the realtime URL", () => {
  const location = {
    href: "https://leads.example.com/leads/a",
    protocol: "https:",
    hostname: "leads.example.com",
    origin: "https://leads.example.com",
  };
  const memory = () => {
    const items = new Map<string, string>();
    return {
      getItem: (key: string) => items.get(key) ?? null,
      setItem: (key: string, value: string) => void items.set(key, value),
    };
  };

  it("defaults to this host on port 8081", () => {
    expect(resolveRealtimeUrl({ location, storage: memory(), configured: undefined, dev: false })).toBe(
      "https://leads.example.com:8081",
    );
  });

  it("uses the build-time port on this host", () => {
    expect(resolveRealtimeUrl({ location, storage: memory(), configured: undefined, port: "9001", dev: false })).toBe(
      "https://leads.example.com:9001",
    );
  });

  it("is this origin under the dev server, which proxies /socket.io", () => {
    expect(resolveRealtimeUrl({ location, storage: memory(), configured: undefined, dev: true })).toBe(location.origin);
  });

  it("follows the build-time setting, where empty means this origin", () => {
    expect(resolveRealtimeUrl({ location, storage: memory(), configured: "https://rt.example.com", dev: false })).toBe(
      "https://rt.example.com",
    );
    expect(resolveRealtimeUrl({ location, storage: memory(), configured: "", dev: false })).toBe(location.origin);
  });

  it("takes a ?realtime= parameter and keeps it for the tab", () => {
    const storage = memory();
    const withParam = { ...location, href: "https://leads.example.com/?realtime=http://127.0.0.1:4567" };
    expect(resolveRealtimeUrl({ location: withParam, storage, configured: undefined, dev: false })).toBe(
      "http://127.0.0.1:4567",
    );
    expect(resolveRealtimeUrl({ location, storage, configured: undefined, dev: false })).toBe("http://127.0.0.1:4567");
  });

  it("ignores a parameter that is not an http(s) URL", () => {
    const withParam = { ...location, href: "https://leads.example.com/?realtime=javascript:alert(1)" };
    expect(resolveRealtimeUrl({ location: withParam, storage: memory(), configured: undefined, dev: false })).toBe(
      "https://leads.example.com:8081",
    );
  });
});
