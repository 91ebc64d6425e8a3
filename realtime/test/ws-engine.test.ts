import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { TurnCorkedWebSocketServer } from "../src/ws-engine.ts";

interface Running {
  http: Server;
  url: string;
  /** Writes the server made on each upgraded connection's TCP socket since its handshake. */
  writes: number[];
  /** Sends `count` messages on the newest connection, all in one turn of the event loop. */
  burst(count: number): void;
}

const running: Server[] = [];
afterEach(async () => {
  for (const http of running.splice(0)) {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
});

async function start(): Promise<Running> {
  const wss = new TurnCorkedWebSocketServer({ noServer: true });
  const writes: number[] = [];
  const clients: WebSocket[] = [];
  const http = createServer();
  http.on("upgrade", (request, socket: Socket, head) => {
    wss.handleUpgrade(request, socket, head, (client) => {
      // Counted from here: the handshake's own write is done. `_write`/`_writev` are the calls a Writable makes
      // for each chunk (or corked run of chunks) it hands to the system.
      const index = writes.push(0) - 1;
      const writable = socket as unknown as Record<"_write" | "_writev", (...args: unknown[]) => void>;
      for (const method of ["_write", "_writev"] as const) {
        const original = writable[method].bind(socket);
        writable[method] = (...args: unknown[]) => {
          writes[index] = (writes[index] ?? 0) + 1;
          original(...args);
        };
      }
      clients.push(client);
    });
  });
  running.push(http);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    http,
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
    writes,
    burst(count) {
      const client = clients.at(-1) as WebSocket;
      for (let i = 0; i < count; i += 1) client.send(JSON.stringify({ i }));
    },
  };
}

async function connect(url: string): Promise<{ received: unknown[]; socket: WebSocket }> {
  const socket = new WebSocket(url);
  const received: unknown[] = [];
  socket.on("message", (data) => received.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return { received, socket };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe("the realtime server's WebSocket engine", () => {
  it("writes a burst of frames sent in one turn with one system write, every frame intact and in order", async () => {
    const server = await start();
    const { received, socket } = await connect(server.url);
    await until(() => server.writes.length === 1);
    server.burst(500);
    await until(() => received.length === 500);
    expect(received).toEqual(Array.from({ length: 500 }, (_, i) => ({ i })));
    expect(server.writes[0]).toBe(1);
    socket.close();
  });

  it("sends a lone frame at the end of its turn, and the next turn's frames in a write of their own", async () => {
    const server = await start();
    const { received, socket } = await connect(server.url);
    await until(() => server.writes.length === 1);
    server.burst(1);
    await until(() => received.length === 1);
    server.burst(3);
    await until(() => received.length === 4);
    expect(server.writes[0]).toBe(2);
    expect(received).toEqual([{ i: 0 }, { i: 0 }, { i: 1 }, { i: 2 }]);
    socket.close();
  });
});
