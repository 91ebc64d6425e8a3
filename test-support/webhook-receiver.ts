// A real local HTTP receiver for webhook tests: records every request and answers as the test says.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** `webhook-id` */
  id: string;
  /** The parsed body. */
  json: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** How to answer a request: a status, or a promise of one (held until it settles). */
export type Answer = (request: Received, index: number) => number | Promise<number>;

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  answer: Answer;
  /** Stops listening (connections are refused until `listen` again, on the same port). */
  close(): Promise<void>;
  listen(): Promise<void>;
}

export async function createReceiver(answer: Answer = () => 200, port = 0): Promise<Receiver> {
  let server: Server | undefined;
  const receiver: Receiver = {
    url: "",
    port,
    received: [],
    answer,
    async listen() {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", async () => {
          const body = Buffer.concat(chunks).toString("utf8");
          const received: Received = {
            headers: request.headers,
            body,
            id: String(request.headers["webhook-id"]),
            json: JSON.parse(body),
          };
          const index = receiver.received.push(received) - 1;
          const status = await receiver.answer(received, index);
          response.writeHead(status, { "content-type": "text/plain" });
          response.end(status >= 200 && status < 300 ? "ok" : `answered ${status}`);
        });
      });
      await new Promise<void>((resolve) => server?.listen(receiver.port, "127.0.0.1", resolve));
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}/hooks`;
    },
    async close() {
      const closing = server;
      server = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
  await receiver.listen();
  return receiver;
}
