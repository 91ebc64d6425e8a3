import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { describe, expect, it } from "vitest";
import { fixedPort, uniqueName } from "../../test-support/index.ts";
import { BIN, startPrivateRedis, startProcess } from "../../test-support/processes.ts";

/** The command lines of the processes whose environment holds `REDIS_PREFIX=<prefix>`. */
function processesOf(prefix: string): string[][] {
  const found: string[][] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`REDIS_PREFIX=${prefix}`)) continue;
      found.push(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function listeningOn(port: number): boolean {
  const out = execFileSync("sh", ["-c", `ss -ltnH 'sport = :${port}' || true`]).toString();
  return out.trim().length > 0;
}

describe("npm start", () => {
  it("brings the stack up, refuses a second copy on the same ports, and leaves nothing behind", async () => {
    // Fixed ports, not 0: the test starts a second copy on the same ones.
    const [port, realtimePort] = [await fixedPort(), await fixedPort()];
    const env = { PORT: String(port), REALTIME_PORT: String(realtimePort), REDIS_PREFIX: uniqueName() };
    const first = startProcess(join(BIN, "tsx"), ["scripts/start.ts"], env);
    try {
      await first.waitFor(/Leadscore is up/, 120_000);
      await first.waitFor(/dispatcher ready/, 60_000);
      expect(first.output()).toContain(`http://localhost:${port}/`);
      expect(first.output()).toContain("write key   dev-write-key");
      expect(first.output()).toContain("read token  dev-read-token");
      // How durable the Redis in use is, whichever it is.
      expect(first.output()).toMatch(/redis {7}(WARNING: no|append-only file on)/);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
      const leads = (token: string) =>
        fetch(`http://127.0.0.1:${port}/api/leads`, { headers: { authorization: `Bearer ${token}` } });
      expect((await leads("dev-read-token")).status).toBe(200);
      expect((await leads("dev-write-key")).status).toBe(401);
      // The worker runs with the flags every launcher gives it (worker/src/node-flags.ts).
      const workers = processesOf(env.REDIS_PREFIX).filter((args) => args.includes("worker/src/main.ts"));
      expect(workers.length).toBeGreaterThan(0);
      for (const args of workers) expect(args).toEqual(expect.arrayContaining([...WORKER_NODE_FLAGS]));

      const second = startProcess(join(BIN, "tsx"), ["scripts/start.ts"], env);
      expect(await second.exited(60_000)).toBe(1);
      expect(second.output()).toMatch(new RegExp(`port ${port} is already in use`));
    } finally {
      expect(await first.stop("SIGTERM", 30_000)).toBe(0);
    }
    expect(listeningOn(port)).toBe(false);
    expect(listeningOn(realtimePort)).toBe(false);
  }, 240_000);

  it("with NODE_ENV=production, refuses a Redis without the append-only file unless REDIS_VOLATILE_OK=true", async () => {
    const redis = await startPrivateRedis(["--appendonly", "no", "--save", ""]);
    try {
      const env = {
        NODE_ENV: "production",
        REDIS_URL: redis.url,
        PORT: String(await fixedPort()),
        REALTIME_PORT: String(await fixedPort()),
        WRITE_KEYS: "prod-write-key",
        ADMIN_TOKEN: "prod-admin-token",
        READ_TOKENS: "prod-read-token",
      };
      const refused = startProcess(join(BIN, "tsx"), ["scripts/start.ts"], env);
      expect(await refused.exited(60_000)).toBe(2);
      expect(refused.output()).toMatch(/Redis has no persistence \(appendonly no, no snapshots\)/);
      expect(refused.output()).toMatch(/REDIS_VOLATILE_OK=true/);
      expect(refused.output()).not.toMatch(/Leadscore is up/);
    } finally {
      await redis.stop();
    }
  }, 90_000);
});
