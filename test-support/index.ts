// Helpers for integration tests: real Redis and MongoDB-compatible servers, isolated by unique names.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { type EdgeConfig, EdgeConfigSchema, parseConfig } from "@leadscore/contracts";
import { createRedis, type RedisTarget, serversOf } from "@leadscore/runtime";
import type { Redis } from "ioredis";
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

/**
 * A Redis client (of the suites' Redis, or of `target`, a Redis Cluster too); `cleanup()` deletes every key under the
 * prefix and disconnects.
 */
export async function createTestRedis(
  prefix: string,
  target: RedisTarget = { REDIS_URL, REDIS_CLUSTER_NODES: [] },
): Promise<{ redis: Redis; cleanup(): Promise<void> }> {
  const redis = createRedis(target);
  return {
    redis,
    async cleanup() {
      for (const server of await serversOf(redis)) {
        let cursor = "0";
        do {
          const [next, keys] = await server.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) await server.del(...keys);
        } while (cursor !== "0");
      }
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

const EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range";
/** Lowest port of the kernel's ephemeral range (Linux's default when it cannot be read). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync(EPHEMERAL_RANGE, "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * Where `fixedPort` looks: `TEST_FIXED_PORTS` (`<low>-<high>`, both included) on a host whose ports are handed out
 * among several users, else the 12,000 ports below the ephemeral range.
 */
function fixedPortRange(): [low: number, high: number] {
  const range = /^(\d+)-(\d+)$/.exec(process.env.TEST_FIXED_PORTS ?? "");
  if (range) return [Number(range[1]), Number(range[2]) + 1];
  const high = ephemeralStart();
  return [Math.max(1025, high - 12_000), high];
}

function taken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });
}

/**
 * A port below the kernel's ephemeral range that nobody listens on now, for a server that must be told its port
 * before it starts (one restarted on the same port, one that cannot bind port 0 and say which it got) and for an
 * address where nothing may answer. Every other server here binds port 0; the kernel never hands out a port below
 * the ephemeral range for that or for an outgoing connection, so only another explicit choice could take it.
 */
export async function fixedPort(): Promise<number> {
  const [low, high] = fixedPortRange();
  // A port handed out is not handed out again by this process: its server may not listen yet (a cluster asks for all
  // its nodes' ports before it starts any), and a second caller would then be given the same free port.
  for (const [port, fresh] of portCandidates(low, high)) {
    if (fresh && handedOut.has(port)) continue;
    if (await taken(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${low}-${high - 1}`);
}

/** The ports `fixedPort` gave this process. */
const handedOut = new Set<number>();

/**
 * Ports to try, each with whether it must not have been handed out: at random, then (a narrow range nearly all handed
 * out) every port in order, then any free one again — made as they are asked for, so a first pick that is free is all
 * a call makes.
 */
function* portCandidates(low: number, high: number): Generator<[port: number, fresh: boolean]> {
  const random = () => low + Math.floor(Math.random() * (high - low));
  for (let i = 0; i < 50; i++) yield [random(), true];
  for (let port = low; port < Math.min(high, low + 1_000); port++) yield [port, true];
  for (let i = 0; i < 50; i++) yield [random(), false];
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
