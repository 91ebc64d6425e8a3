import { connect, createServer, type Socket } from "node:net";
import type { QueuedEvent } from "@leadscore/contracts";
import type { EventsJob } from "@leadscore/runtime";
import type { Queue } from "bull";

export const WRITE_KEY = "test-write-key";
export const JSON_HEADERS = { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` };

export function post(body: unknown, headers: Record<string, string> = JSON_HEADERS): RequestInit {
  return { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) };
}

/** Every event in the queue's waiting jobs, in the order they were queued. */
export async function queuedEvents(queue: Queue): Promise<QueuedEvent[]> {
  const jobs = await queue.getWaiting(0, -1);
  return jobs.reverse().flatMap((job) => (job.data as EventsJob).events);
}

/**
 * A TCP relay in front of a real server that can stop passing bytes (both ways) and resume, holding what arrives
 * meanwhile: a server that is up but answers late.
 */
export async function createStallingRelay(targetPort: number, targetHost = "127.0.0.1") {
  let stalled = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) =>
    from.on("data", (chunk) => {
      if (stalled) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      for (const send of held.splice(0)) send();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
