import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Queue from "bull";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, fixedPort, uniqueName } from "../../test-support/index.ts";
import { RECONNECT } from "../src/reconnect.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A redis-server of this test's own, which it may kill: no persistence, data in a temporary folder. */
async function privateRedis(port: number) {
  const dir = await mkdtemp(join(tmpdir(), "leadscore-reconnect-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const start = () => {
    const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir], {
      stdio: "ignore",
    });
    cleanups.push(() => {
      child.kill("SIGKILL");
    });
    return child;
  };
  return { start };
}

describe("when Redis has been away for a while and comes back", () => {
  it("a queue opened with RECONNECT takes jobs again without waiting out a growing backoff", async () => {
    const port = Number(process.env.RECONNECT_REDIS_PORT ?? (await fixedPort()));
    const redis = await privateRedis(port);
    let server = redis.start();
    const queue = new Queue(uniqueName("reconnect"), `redis://127.0.0.1:${port}`, { redis: RECONNECT });
    cleanups.push(() => queue.close(true).catch(() => undefined));
    queue.on("error", () => undefined);
    await eventually(async () => (await queue.add({ n: 1 }).catch(() => null)) !== null, 10_000);

    let tries = 0;
    queue.client.on("reconnecting", () => {
      tries += 1;
    });
    server.kill("SIGKILL");
    // Bull's own backoff waits e^n ms after its n-th failed try: 2.2 s after the 8th, 8 s after the 9th, 20 s after the
    // 10th and every one after it. Twenty failed tries are minutes of it.
    await eventually(async () => tries >= 20, 30_000);
    server = redis.start();
    await eventually(async () => (await queue.add({ n: 2 }).catch(() => null)) !== null, 10_000);
    // The Redis that came back kept nothing: the job waiting is the one added since.
    expect(await queue.count()).toBe(1);
  }, 60_000);
});
