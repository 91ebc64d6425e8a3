// Helpers for integration tests: real Redis and MongoDB-compatible servers, isolated by unique names.
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { type EdgeConfig, EdgeConfigSchema, parseConfig } from "@leadscore/contracts";
import { Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";

export const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379";
export const MONGO_URL = process.env.MONGO_URL || "mongodb://127.0.0.1:27017/leadscore";

/** `test-<uuid>`-style name, safe as a Redis prefix, a queue name and a database name. */
export function uniqueName(label = "test"): string {
  return `${label}-${randomUUID().slice(0, 13)}`;
}

/** A MongoDB URL pointing at a fresh database of its own. */
export function uniqueMongoUrl(name = uniqueName()): string {
  const url = new URL(MONGO_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A fresh database; `drop()` removes it and closes the client. */
export async function createTestDb(name = uniqueName()): Promise<{ db: Db; url: string; drop(): Promise<void> }> {
  const url = uniqueMongoUrl(name);
  const client = new MongoClient(url);
  await client.connect();
  const db = client.db(name);
  return {
    db,
    url,
    async drop() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}

/** A Redis client; `cleanup()` deletes every key under the prefix and disconnects. */
export async function createTestRedis(prefix: string): Promise<{ redis: Redis; cleanup(): Promise<void> }> {
  const redis = new Redis(REDIS_URL);
  return {
    redis,
    async cleanup() {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== "0");
      redis.disconnect();
    },
  };
}

/** The read token of every test configuration; reads send it as `Authorization: Bearer`. */
export const TEST_READ_TOKEN = "test-read-token";

/** `init` with `Authorization: Bearer <read token>` added, so a test's read is one call rather than a header block. */
export function withReadToken(init: RequestInit = {}, token = TEST_READ_TOKEN): RequestInit {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return { ...init, headers };
}

/** An edge config for tests: unique Redis prefix and database unless overridden. */
export function testEdgeConfig(overrides: Record<string, string> = {}): EdgeConfig {
  return parseConfig(EdgeConfigSchema, {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: uniqueMongoUrl(),
    REDIS_PREFIX: uniqueName(),
    WRITE_KEYS: "test-write-key",
    ADMIN_TOKEN: "test-admin-token",
    READ_TOKENS: TEST_READ_TOKEN,
    ...overrides,
  });
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until `check` returns a truthy value or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
}
