import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { TurnCorkedWebSocketServer } from "../src/ws-engine.ts";
import { countWrites } from "./writes.ts";

const running: Server[] = [];
afterEach(async () => {
  for (const http of running.splice(0)) {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
});

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
};

/**
 * A server of the engine with one client connected to it, its handshake done: `burst` sends `count` messages to
 * the client, all in one turn of the event loop; `received` is what the client got, in order.
 */
async function connected() {
  const wss = new TurnCorkedWebSocketServer({ noServer: true });
  const accepted: WebSocket[] = [];
  const http = createServer();
  http.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (client) => accepted.push(client));
  });
  running.push(http);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: unknown[] = [];
  socket.on("message", (data) => received.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  await until(() => accepted.length === 1);
  return {
    port,
    received,
    burst(count: number) {
      for (let i = 0; i < count; i += 1) accepted[0]?.send(JSON.stringify({ i }));
    },
    close: () => socket.close(),
  };
}

describe("the realtime server's WebSocket engine", () => {
  it("writes a burst of frames sent in one turn with one system write, every frame intact and in order", async () => {
    const client = await connected();
    const writes = countWrites(client.port);
    client.burst(500);
    await until(() => client.received.length === 500);
    expect(writes.stop()).toBe(1);
    expect(client.received).toEqual(Array.from({ length: 500 }, (_, i) => ({ i })));
    client.close();
  });

  it("sends a lone frame at the end of its turn, and the next turn's frames in a write of their own", async () => {
    const client = await connected();
    const writes = countWrites(client.port);
    client.burst(1);
    await until(() => client.received.length === 1);
    client.burst(3);
    await until(() => client.received.length === 4);
    expect(writes.stop()).toBe(2);
    expect(client.received).toEqual([{ i: 0 }, { i: 0 }, { i: 1 }, { i: 2 }]);
    client.close();
  });
});
