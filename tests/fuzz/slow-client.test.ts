// Clients that misbehave on the socket itself, against the edge under Deno: bodies that trickle or stop, headers
// too large or too many. None may hold up other clients or take the edge down, and a body that does not arrive in
// time is cut off rather than holding its connection and buffer for ever.
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, eventually, MONGO_URL, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, loggedPort, type RunningProcess, startProcess } from "../../test-support/processes.ts";

const WRITE_KEY = "slow-client-key";
const BODY_TIMEOUT_MS = 3000;

interface RawExchange {
  socket: Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
  received(): string;
}

function rawRequest(port: number, head: string): RawExchange {
  const socket = connect(port, "127.0.0.1");
  let text = "";
  socket.on("data", (chunk) => {
    text += chunk.toString("latin1");
  });
  const closed = new Promise<string>((resolve) => {
    socket.on("close", () => resolve(text));
    socket.on("error", () => undefined);
  });
  socket.write(head);
  return { socket, closed, received: () => text };
}

const postHead = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nX-Write-Key: ${WRITE_KEY}\r\n` +
  `Content-Length: ${length}\r\n\r\n`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("when clients misbehave on the socket", () => {
  const prefix = uniqueName("slow");
  let edge: RunningProcess;
  let port = 0;
  const event = (id: string) => JSON.stringify({ event_id: id, lead_id: "slow-lead", event_type: "page_view" });
  const post = (id: string) =>
    fetch(`http://127.0.0.1:${port}/api/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": WRITE_KEY },
      body: event(id),
    });

  beforeAll(async () => {
    edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL,
      MONGO_URL,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: WRITE_KEY,
      BODY_READ_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      LOG_LEVEL: "info",
    });
    port = await loggedPort(edge, "edge listening", 60_000);
  }, 90_000);
  afterAll(async () => {
    await edge?.stop("SIGKILL");
    await (await createTestRedis(prefix)).cleanup();
  });

  it("serves other requests while one trickles its body", async () => {
    const body = event("trickled");
    const slow = rawRequest(port, postHead("/api/events", body.length));
    // Half the body, a byte at a time, while 20 ordinary requests come and go.
    const trickle = (async () => {
      for (const char of body.slice(0, body.length / 2)) {
        slow.socket.write(char);
        await sleep(10);
      }
    })();
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => post(`beside-${i}`)));
    expect(others.map((response) => response.status)).toEqual(Array(20).fill(202));
    // The trickled request is still unanswered: the others did not wait for it.
    expect(slow.received()).toBe("");
    await trickle;
    slow.socket.write(body.slice(body.length / 2));
    await eventually(async () => slow.received().length > 0);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 202/);
    slow.socket.destroy();
  });

  // Deno keeps the connection itself open (it has no body or idle timeout of its own); what the edge can free, and
  // does, is the request: its handler, its buffer, its place in the rate of work. See SECURITY.md.
  it("answers 408 when a body stops arriving", async () => {
    const stalled = rawRequest(port, `${postHead("/api/batch", 1000)}{"events":[`);
    const answer = await eventually(
      async () => stalled.received().match(/^HTTP\/1\.1 408[\s\S]*\r\n\r\n(.*)$/)?.[1],
      15_000,
    );
    expect(JSON.parse(answer)).toMatchObject({ error: { code: "REQUEST_TIMEOUT" } });
    stalled.socket.destroy();
  }, 20_000);

  it("answers 408 to a body trickled too slowly to arrive in time, chunked or not", async () => {
    const heads = [
      postHead("/beacon", 1000),
      postHead("/api/events", 1000).replace("Content-Length: 1000", "Transfer-Encoding: chunked"),
    ];
    for (const head of heads) {
      const chunked = head.includes("chunked");
      const slow = rawRequest(port, head);
      let sent = 0;
      while (sent < 1000 && slow.received() === "") {
        slow.socket.write(chunked ? "1\r\n \r\n" : " ");
        sent += 1;
        await sleep(50);
      }
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
      expect(sent).toBeLessThan(1000);
      slow.socket.destroy();
    }
  }, 30_000);

  it("refuses 100 KB of headers and too many headers, and keeps serving", async () => {
    const big = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: edge\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`)
      .closed;
    expect(big).toMatch(/^HTTP\/1\.1 400 /);
    const many = Array.from({ length: 500 }, (_, i) => `X-H${i}: v\r\n`).join("");
    const flood = await rawRequest(port, `GET /healthz HTTP/1.1\r\nHost: edge\r\n${many}\r\n`).closed;
    expect(flood).toMatch(/^HTTP\/1\.1 400 /);
    expect((await post("after-the-floods")).status).toBe(202);
  });

  it("keeps serving after clients that vanish mid-request", async () => {
    for (let i = 0; i < 50; i++) {
      const gone = rawRequest(port, `${postHead("/api/batch", 10_000)}{"events":[{"lead_id":"x"`);
      gone.socket.destroy();
    }
    expect((await post("after-the-vanishing")).status).toBe(202);
    expect(edge.child.exitCode).toBeNull();
  });
});
