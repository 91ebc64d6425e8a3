import { Socket as NetSocket } from "node:net";

/**
 * Counts the writes this process hands the system on the server side of connections to `port`, until stopped:
 * `_write`/`_writev` are the calls a Writable makes for each chunk, or each corked run of chunks.
 */
export function countWrites(port: number): { stop(): number } {
  const proto = NetSocket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => void>;
  const originals = { _write: proto._write, _writev: proto._writev };
  let writes = 0;
  for (const method of ["_write", "_writev"] as const) {
    const original = originals[method];
    proto[method] = function (this: NetSocket, ...args: unknown[]) {
      if (this.localPort === port) writes += 1;
      return original.apply(this, args);
    };
  }
  return {
    stop() {
      Object.assign(proto, originals);
      return writes;
    },
  };
}
