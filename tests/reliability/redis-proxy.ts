// A TCP proxy in front of Redis that can be told to swallow, from the moment it is armed, every command that
// names a given key prefix. It freezes one kind of traffic (e.g. Bull's writes to the queue) while the rest (e.g.
// the edge's de-duplication keys) goes on, which is the moment between two writes that a crash test needs.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface RedisProxy {
  readonly url: string;
  /** From now on, a connection that sends a command naming `marker` is cut off from Redis for good. */
  arm(marker: string): void;
  /** Connections cut off so far. */
  held(): number;
  close(): Promise<void>;
}

export async function startRedisProxy(upstreamPort: number): Promise<RedisProxy> {
  let marker: Buffer | null = null;
  let held = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    let cut = false;
    client.on("data", (chunk) => {
      if (!cut && marker && chunk.includes(marker)) {
        cut = true;
        held += 1;
      }
      // Once cut, nothing more from this connection reaches Redis, so nothing arrives out of order.
      if (!cut) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    arm(text) {
      marker = Buffer.from(text);
    },
    held: () => held,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
