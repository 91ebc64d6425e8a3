import { join } from "node:path";
import { liveKeys, newGeneration } from "@leadscore/live";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { eventually, MONGO_URL, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, loggedPort, startProcess } from "../../test-support/processes.ts";

describe("the Deno entry point", () => {
  it("serves /readyz 200 under Deno and exits 0 on SIGTERM", async () => {
    const prefix = uniqueName();
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL,
      MONGO_URL,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: "info",
    });
    try {
      const port = await loggedPort(edge, "edge listening", 60_000);
      // The live state as a worker leaves it once built on this Redis (no worker runs here); the edge seeds the
      // default rules itself.
      const redis = new Redis(REDIS_URL);
      await redis.set(liveKeys(prefix).gen, await newGeneration(redis, "deno-entry"));
      redis.disconnect();
      // Ready once its clients have connected, which may take a moment after the port opens on a busy machine.
      const body = await eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return response.status === 200 ? await response.json() : null;
      }, 20_000);
      expect(body).toMatchObject({ status: "ready" });
    } finally {
      expect(await edge.stop("SIGTERM")).toBe(0);
    }
  }, 90_000);

  it("stops with a message naming a bad variable", async () => {
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, { PORT: "not-a-port" });
    expect(await edge.stop("SIGCONT", 60_000).then(() => edge.child.exitCode)).toBe(2);
    expect(edge.output()).toMatch(/PORT: must be a port number \(got "not-a-port"\)/);
  }, 90_000);
});
