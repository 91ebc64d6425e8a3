// The WebSocket server under Socket.io, with a socket's frames of one event-loop turn written in one system call.
//
// A burst of messages arrives in one read; Socket.io answers each in its own tick, and the `ws` library writes every
// frame at once, one `writev` each. A socket corked at its first frame of a turn and uncorked after the turn's
// ticks (setImmediate) sends them all together: 1,000 acknowledgements of a subscribe flood went out in 1,000 writes
// before, and writing them took a third of a fresh process's time in its first flood.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";

export class TurnCorkedWebSocketServer extends WebSocketServer {
  override handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (client: WebSocket, request: IncomingMessage) => void,
  ): void {
    super.handleUpgrade(request, socket, head, (client, upgraded) => {
      callback(corkPerTurn(client, socket), upgraded);
    });
  }
}

function corkPerTurn(client: WebSocket, socket: Duplex): WebSocket {
  const send = client.send.bind(client) as (...args: unknown[]) => void;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  client.send = ((...args: unknown[]) => {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    send(...args);
  }) as WebSocket["send"];
  return client;
}
