// Write keys and the admin, read and metrics tokens: compared without early exits (reviewed in SECURITY.md; here, that the comparisons
// give the right answer for every kind of near miss) and never written to a log, on any route, in any outcome.
import { join } from "node:path";
import { ApiError, createWriteKeyCheck, errorResponse, requireAdmin } from "@leadscore/edge";
import { createSecretCheck } from "@leadscore/runtime";
import { Hono } from "hono";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestRedis,
  fixedPort,
  MONGO_URL,
  REDIS_URL,
  uniqueMongoUrl,
  uniqueName,
} from "../../test-support/index.ts";
import {
  BIN,
  DENO_EDGE_ARGS,
  loggedPort,
  NODE_TS,
  type RunningProcess,
  startProcess,
  WORKER_ARGS,
} from "../../test-support/processes.ts";

describe("when a write key is checked", () => {
  const check = createWriteKeyCheck(["site-key-0123456789", "server-key-abcdefghij", "ключ-🔑"]);

  it("accepts each configured key exactly", () => {
    expect(check("site-key-0123456789")).toBe(true);
    expect(check("server-key-abcdefghij")).toBe(true);
    expect(check("ключ-🔑")).toBe(true);
  });

  it("refuses keys of the same length that differ anywhere", () => {
    expect(check("site-key-0123456788")).toBe(false);
    expect(check("Site-key-0123456789")).toBe(false);
    expect(check("site-key-01234X6789")).toBe(false);
    expect(check("ключ-🔒")).toBe(false);
  });

  it("refuses prefixes, extensions and keys of other lengths", () => {
    for (const presented of [
      "",
      "s",
      "site-key-012345678",
      "site-key-01234567890",
      "site-key-0123456789 ",
      "x".repeat(300),
    ]) {
      expect(check(presented)).toBe(false);
    }
  });

  it("refuses a key made of repeats of a configured key's bytes", () => {
    // The loop indexes the configured key modulo its length; a repeat must not pass for the key itself.
    expect(check("site-key-0123456789site-key-0123456789")).toBe(false);
  });

  it("accepts nothing when no key is configured", () => {
    const none = createWriteKeyCheck([]);
    expect(none("")).toBe(false);
    expect(none("anything")).toBe(false);
  });
});

describe("when a read, admin or metrics token is checked", () => {
  const check = createSecretCheck(["read-token-0123456789", "second-read-token", "ключ-🔑"]);

  it("accepts each configured token exactly", async () => {
    for (const token of ["read-token-0123456789", "second-read-token", "ключ-🔑"])
      expect(await check(token)).toBe(true);
  });

  it("refuses same-length, shorter, longer, prefixed and repeated tokens", async () => {
    for (const presented of [
      "read-token-0123456788",
      "Read-token-0123456789",
      "ключ-🔒",
      "",
      "read-token-012345678",
      "read-token-01234567890",
      "read-token-0123456789read-token-0123456789",
      "second-read-tokensecond-read-token",
      "x".repeat(100_000),
    ]) {
      expect(await check(presented), presented.slice(0, 40)).toBe(false);
    }
  });

  it("accepts nothing when no token is configured", async () => {
    const none = createSecretCheck([]);
    expect(await none("")).toBe(false);
    expect(await none("anything")).toBe(false);
  });
});

describe("when an admin token is checked", () => {
  const token = "admin-token-0123456789";
  const app = new Hono()
    .use("*", requireAdmin(token))
    .get("/", (c) => c.text("ok"))
    .onError((error) => (error instanceof ApiError ? errorResponse(error) : new Response("boom", { status: 500 })));
  const statusWith = async (headers: Record<string, string>) => (await app.request("/", { headers })).status;

  it("lets the exact token through either header", async () => {
    expect(await statusWith({ authorization: `Bearer ${token}` })).toBe(200);
    expect(await statusWith({ "x-admin-token": token })).toBe(200);
  });

  it("answers 403 for same-length, shorter, longer and prefixed tokens", async () => {
    for (const wrong of ["admin-token-0123456788", "admin-token-012345678", `${token}0`, `${token}${token}`, "a"]) {
      expect(await statusWith({ authorization: `Bearer ${wrong}` })).toBe(403);
      expect(await statusWith({ "x-admin-token": wrong })).toBe(403);
    }
  });

  it("answers 401 when no token is presented", async () => {
    expect(await statusWith({})).toBe(401);
    expect(await statusWith({ authorization: "Bearer " })).toBe(401);
  });
});

const WRITE_KEY = `wk-${uniqueName("secret")}`;
const ADMIN_TOKEN = `at-${uniqueName("secret")}`;
const WRONG_KEY = `wrong-${uniqueName("secret")}`;
const WRONG_TOKEN = `wrong-${uniqueName("secret")}`;
const READ_TOKEN = `rt-${uniqueName("secret")}`;
const METRICS_TOKEN = `mt-${uniqueName("secret")}`;

/** Every route that takes a key or token, with the right one, a wrong one and a malformed one. */
async function exercise(base: string) {
  const json = { "content-type": "application/json" };
  const event = (id: string) => JSON.stringify({ event_id: id, lead_id: "log-lead", event_type: "page_view" });
  const requests: [string, RequestInit][] = [];
  for (const key of [WRITE_KEY, WRONG_KEY, `${WRITE_KEY}\t${WRONG_KEY}`]) {
    requests.push(
      [
        `/api/events`,
        { method: "POST", headers: { ...json, authorization: `Bearer ${key}` }, body: event(uniqueName()) },
      ],
      [`/api/events`, { method: "POST", headers: { ...json, "x-write-key": key }, body: "{not json" }],
      [
        `/api/batch`,
        { method: "POST", headers: { ...json, "x-write-key": key }, body: JSON.stringify({ events: [{}] }) },
      ],
      [`/p.gif?key=${encodeURIComponent(key)}&lead_id=log-lead&event_type=page_view`, {}],
      [
        `/beacon?key=${encodeURIComponent(key)}`,
        { method: "POST", headers: { "content-type": "text/plain" }, body: event(uniqueName()) },
      ],
    );
  }
  for (const token of [ADMIN_TOKEN, WRONG_TOKEN]) {
    const admin = { ...json, authorization: `Bearer ${token}` };
    requests.push(
      [`/api/rules`, { method: "POST", headers: admin, body: JSON.stringify({ event_type: "log_rule", points: 1 }) }],
      [
        `/api/rules/log_rule`,
        { method: "PUT", headers: { ...json, "x-admin-token": token }, body: JSON.stringify({ points: 2 }) },
      ],
      [
        `/api/leads`,
        { method: "POST", headers: admin, body: JSON.stringify({ name: "n", email: "bad", company: "c" }) },
      ],
      [`/api/rules/log_rule`, { method: "DELETE", headers: admin }],
    );
  }
  for (const token of [READ_TOKEN, WRONG_TOKEN]) {
    const reader = { authorization: `Bearer ${token}` };
    requests.push([`/api/leads?limit=1`, { headers: reader }], [`/api/rules`, { headers: reader }]);
  }
  for (const token of [METRICS_TOKEN, WRONG_TOKEN]) {
    requests.push([`/metrics`, { headers: { authorization: `Bearer ${token}` } }]);
  }
  const statuses: number[] = [];
  for (const [path, init] of requests) {
    // Bounded: with Redis unreachable, `/metrics` waits on the queue's counts with no timeout of its own.
    const response = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(5000) }).catch(() => null);
    statuses.push(response?.status ?? 0);
    await response?.arrayBuffer();
  }
  return statuses;
}

describe("when the edge serves requests with right and wrong keys", () => {
  const prefix = uniqueName("logs");
  const edges: RunningProcess[] = [];
  let statuses: number[] = [];
  let unavailableStatuses: number[] = [];

  const startEdge = async (redisUrl: string) => {
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL: redisUrl,
      MONGO_URL: uniqueMongoUrl(prefix),
      REDIS_PREFIX: prefix,
      WRITE_KEYS: WRITE_KEY,
      ADMIN_TOKEN,
      READ_TOKENS: READ_TOKEN,
      METRICS_TOKEN,
      // The most the edge ever says.
      LOG_LEVEL: "debug",
    });
    edges.push(edge);
    const port = await loggedPort(edge, "edge listening", 60_000);
    return `http://127.0.0.1:${port}`;
  };

  beforeAll(async () => {
    statuses = await exercise(await startEdge(REDIS_URL));
    // And with Redis unreachable, when the edge has errors to log.
    unavailableStatuses = await exercise(await startEdge(`redis://127.0.0.1:${await fixedPort()}`));
    await Promise.all(edges.map((edge) => edge.stop("SIGTERM")));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(edges.map((edge) => edge.stop("SIGKILL")));
    await (await createTestRedis(prefix)).cleanup();
    const client = new MongoClient(MONGO_URL);
    await client
      .db(prefix)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
  });

  it("used the keys: accepted with the right ones, refused with the wrong ones", () => {
    expect(statuses.slice(0, 5)).toEqual([202, 400, 202, 200, 204]);
    expect(statuses.slice(5, 10)).toEqual([401, 401, 401, 200, 401]);
    expect(statuses.slice(15, 19)).toEqual([201, 200, 400, 204]);
    expect(statuses.slice(19, 23)).toEqual([403, 403, 403, 403]);
    expect(statuses.slice(23)).toEqual([200, 200, 401, 401, 200, 401]);
    expect(unavailableStatuses.slice(0, 1)).toEqual([503]);
  });

  it("logged something, and no key or token, right or wrong", () => {
    const output = edges.map((edge) => edge.output()).join("\n");
    expect(output).toContain("edge listening");
    expect(output).toContain("redis");
    for (const secret of [WRITE_KEY, ADMIN_TOKEN, READ_TOKEN, METRICS_TOKEN, WRONG_KEY, WRONG_TOKEN]) {
      expect(output).not.toContain(secret);
    }
  });
});

// Bad values of every secret variable, each breaking a rule. The URLs are checked first (a token's rules apply once
// every variable has its form), so the tokens are tried with good URLs.
const BAD_URLS = {
  REDIS_URL: "http://redis-user:R3disPassw0rd@127.0.0.1:6379",
  MONGO_URL: "http://mongo-user:M0ngoPassw0rd@127.0.0.1:27017/leadscore",
};
const BAD_TOKENS = {
  WRITE_KEYS: "Pr1vateWriteKey-0042",
  ADMIN_TOKEN: "Sh0rtPw",
  READ_TOKENS: "a-long-read-token-7731,Sh0rtRd",
  METRICS_TOKEN: "Pr1vateWriteKey-0042",
};

describe("when a process starts with bad secret values", () => {
  const node = (entry: string) => [process.execPath, [...NODE_TS.slice(1), entry]] as const;
  const processes = {
    edge: [join(BIN, "deno"), DENO_EDGE_ARGS],
    worker: [process.execPath, WORKER_ARGS],
    realtime: node("realtime/src/main.ts"),
    dispatcher: node("webhooks/src/main.ts"),
  } as const;
  const cases: [keyof typeof processes, string, Record<string, string>, string[]][] = [
    ["edge", "URLs", BAD_URLS, ["REDIS_URL", "MONGO_URL"]],
    ["worker", "URLs", BAD_URLS, ["REDIS_URL", "MONGO_URL"]],
    ["realtime", "URLs", BAD_URLS, ["REDIS_URL", "MONGO_URL"]],
    ["dispatcher", "URLs", BAD_URLS, ["REDIS_URL", "MONGO_URL"]],
    ["edge", "tokens", BAD_TOKENS, ["ADMIN_TOKEN", "READ_TOKENS", "METRICS_TOKEN"]],
    ["realtime", "tokens", BAD_TOKENS, ["ADMIN_TOKEN", "READ_TOKENS"]],
  ];

  it.each(cases)(
    "the %s names each bad variable and prints none of the values (%s)",
    async (name, _, bad, named) => {
      const [command, args] = processes[name];
      const running = startProcess(command, [...args], {
        NODE_ENV: "production",
        PORT: "0",
        REDIS_URL,
        MONGO_URL,
        ...bad,
      });
      expect(await running.exited(60_000)).toBe(2);
      const output = running.output();
      expect(output).toContain(`${name}: invalid configuration`);
      for (const variable of named) expect(output).toMatch(new RegExp(`\\b${variable}: \\w`));
      // Each value, and each part of it long enough to be a secret (a user name, a password, one token of a list).
      for (const value of Object.values(bad)) {
        for (const part of [value, ...value.split(/[,:@/]/).filter((piece) => piece.length >= 7)]) {
          expect(output).not.toContain(part);
        }
      }
    },
    90_000,
  );
});
