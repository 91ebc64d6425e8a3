import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { queuedEventsKey, readQueuedEvents } from "../src/queue.ts";
import { loadScript, redisScript } from "../src/scripts.ts";

let redis: Awaited<ReturnType<typeof createTestRedis>> | undefined;
let prefix: string;
let dir: string;
const fileUrl = (...parts: string[]) => pathToFileURL(join(dir, ...parts));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "lua-"));
  mkdirSync(join(dir, "includes"));
  mkdirSync(join(dir, "other"));
  writeFileSync(join(dir, "includes", "one.lua"), "local ONE = 1\n");
  writeFileSync(join(dir, "includes", "two.lua"), '--- @include "one"\nlocal TWO = ONE + 1\n');
  writeFileSync(join(dir, "other", "three.lua"), "local THREE = 3\n");
  writeFileSync(
    join(dir, "sum-of-parts-1.lua"),
    [
      "-- KEYS[1] a counter",
      '--- @include "includes/two"',
      '--- @include "includes/one"',
      '--- @include "<other>/three"',
      "return redis.call('INCRBY', KEYS[1], ONE + TWO + THREE + tonumber(ARGV[1]))",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "count-keys.lua"), "return #KEYS * 100 + #ARGV\n");
  writeFileSync(join(dir, "unmapped-0.lua"), '--- @include "<nowhere>/x"\nreturn 1\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await redis?.cleanup();
  redis = undefined;
});

async function fresh() {
  prefix = uniqueName("scripts");
  const test = await createTestRedis(prefix);
  redis = test;
  return test.redis;
}

describe("the script loader", () => {
  it("inserts each include once, where it is first named, includes of includes too", () => {
    const script = loadScript(fileUrl("sum-of-parts-1.lua"), { roots: { other: pathToFileURL(`${dir}/other/`) } });
    expect(script.name).toBe("leadscoreSumOfParts");
    expect(script.numberOfKeys).toBe(1);
    expect(script.lua.match(/local ONE = 1/g)).toHaveLength(1);
    expect(script.lua.indexOf("local ONE")).toBeLessThan(script.lua.indexOf("local TWO"));
    expect(script.lua).toContain("local THREE = 3");
    expect(script.lua).not.toContain("@include");
  });

  it("refuses a second file that would take another script's command name", () => {
    mkdirSync(join(dir, "again"), { recursive: true });
    writeFileSync(join(dir, "again", "count-keys.lua"), "return 0\n");
    redisScript(fileUrl("count-keys.lua"));
    // The same file again is the same script.
    expect(() => redisScript(fileUrl("count-keys.lua"))).not.toThrow();
    expect(() => redisScript(fileUrl("again", "count-keys.lua"))).toThrow("another script is named leadscoreCountKeys");
  });

  it("refuses an include under a root the caller did not map", () => {
    expect(() => loadScript(fileUrl("unmapped-0.lua"))).toThrow("names the root <nowhere>, which is not mapped");
  });

  it("runs a script of fixed keys with its includes, and refuses a call with another number of keys", async () => {
    const client = await fresh();
    const script = redisScript<number>(fileUrl("sum-of-parts-1.lua"), { roots: { other: fileUrl("other") } });
    expect(await script.run(client, [`${prefix}:n`], [4])).toBe(10);
    expect(await script.run(client, [`${prefix}:n`], [0])).toBe(16);
    await expect(script.run(client, [`${prefix}:n`, `${prefix}:m`], [0])).rejects.toThrow(
      "leadscoreSumOfParts takes 1 keys, was given 2",
    );
  });

  it("gives a script named without a number of keys the number of each call's keys", async () => {
    const client = await fresh();
    const script = redisScript<number>(fileUrl("count-keys.lua"));
    expect(script.numberOfKeys).toBeNull();
    expect(await script.run(client, [`${prefix}:a`, `${prefix}:b`, `${prefix}:c`], ["x"])).toBe(301);
    expect(await script.run(client, [], ["x", "y"])).toBe(2);
  });

  it("sends a script's source once per connection, then only its sha", async () => {
    await fresh();
    // The client talks to Redis through a relay that keeps every byte it sends.
    const sent: Buffer[] = [];
    const upstream = new URL(REDIS_URL);
    const relay = createServer((socket) => {
      const server = connect(Number(upstream.port || 6379), upstream.hostname);
      socket.on("data", (chunk: Buffer) => {
        sent.push(chunk);
        server.write(chunk);
      });
      server.pipe(socket);
      socket.on("close", () => server.destroy());
      server.on("close", () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const client = new Redis((relay.address() as AddressInfo).port, "127.0.0.1");
    try {
      const script = redisScript<number>(fileUrl("sum-of-parts-1.lua"), { roots: { other: fileUrl("other") } });
      for (let i = 0; i < 3; i++) expect(await script.run(client, [`${prefix}:wire`], [1])).toBe(7 * (i + 1));
      const wire = Buffer.concat(sent).toString();
      expect(wire.split(script.lua).length - 1).toBe(1);
      expect(wire.match(/\r\nevalsha\r\n/gi)).toHaveLength(2);
    } finally {
      client.disconnect();
      relay.close();
    }
  });
});

/** Every script file of the repository: `<package>/src/**\/lua/*.lua`, includes left out. */
function scriptFiles(): URL[] {
  const root = new URL("../../", import.meta.url);
  const found: URL[] = [];
  const walk = (url: URL) => {
    for (const entry of readdirSync(url, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "includes" || entry.name.startsWith(".")) continue;
      if (entry.isDirectory()) walk(new URL(`${entry.name}/`, url));
      else if (entry.name.endsWith(".lua") && url.pathname.endsWith("/lua/")) found.push(new URL(entry.name, url));
    }
  };
  for (const workspace of ["runtime", "live", "edge", "worker", "webhooks", "realtime"]) {
    walk(new URL(`${workspace}/src/`, root));
  }
  return found;
}

describe("every script file", () => {
  const files = scriptFiles();

  it("is found (the walk reaches them)", () => {
    expect(files.length).toBeGreaterThanOrEqual(17);
  });

  it.each(files.map((url) => [url.pathname.split("/src/")[1] as string, url]))(
    "%s opens with a header naming its keys, arguments, reply and guarantee",
    (_name, url) => {
      const header = readFileSync(url, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("--"));
      const text = header.join("\n");
      expect(text).toMatch(/KEYS/);
      expect(text).toMatch(/-- Reply:/);
      expect(text).toMatch(/-- Guarantee:/);
      if (!/-\d+\.lua$/.test(url.pathname)) expect(text).toContain("the number of keys is given per call");
    },
  );
});

const runtimeScript = <Reply>(file: string) => redisScript<Reply>(new URL(`../src/lua/${file}`, import.meta.url));

describe("count-activity-1.lua", () => {
  it("adds to the counter and gives it the time to live", async () => {
    const client = await fresh();
    const key = `${prefix}:activity`;
    const script = runtimeScript<null>("count-activity-1.lua");
    expect(await script.run(client, [key], [5, 600])).toBeNull();
    expect(await script.run(client, [key], [2, 900])).toBeNull();
    expect(await client.get(key)).toBe("7");
    const ttl = await client.ttl(key);
    expect(ttl).toBeGreaterThan(600);
    expect(ttl).toBeLessThanOrEqual(900);
  });
});

describe("read-queued-events-5.lua", () => {
  const read = (client: Redis) => readQueuedEvents(client, prefix);

  it("reads the count while the queue holds unfinished jobs, with the jobs", async () => {
    const client = await fresh();
    await client.set(queuedEventsKey(prefix), 12);
    await client.rpush(`${prefix}:events:active`, "1");
    expect(await read(client)).toEqual({ count: 12, jobs: 1 });
  });

  it("repairs a count that drifted below 0 while jobs wait to the unfinished jobs", async () => {
    const client = await fresh();
    // Jobs that reached Bull without the edge counting them in took the count below 0 as they finished.
    await client.set(queuedEventsKey(prefix), -3);
    await client.rpush(`${prefix}:events:wait`, "7", "8");
    await client.rpush(`${prefix}:events:active`, "6");
    expect(await read(client)).toEqual({ count: 3, jobs: 3 });
    expect(await client.get(queuedEventsKey(prefix))).toBe("3");
    // The edge's next jobs count from there.
    await client.incrby(queuedEventsKey(prefix), 40);
    expect(await read(client)).toEqual({ count: 43, jobs: 3 });
    // A count below the jobs but not below 0 (an edge's not yet added) is left for that edge to add to.
    await client.set(queuedEventsKey(prefix), 1);
    expect(await read(client)).toEqual({ count: 1, jobs: 3 });
    expect(await client.get(queuedEventsKey(prefix))).toBe("1");
  });

  it("sets the count back to 0 when no job is unfinished", async () => {
    const client = await fresh();
    await client.set(queuedEventsKey(prefix), 40);
    expect(await read(client)).toEqual({ count: 0, jobs: 0 });
    expect(await client.get(queuedEventsKey(prefix))).toBe("0");
    await client.zadd(`${prefix}:events:delayed`, 1, "9");
    await client.set(queuedEventsKey(prefix), 5);
    expect(await read(client)).toEqual({ count: 5, jobs: 1 });
  });
});

describe("lock-acquire-1.lua, lock-extend-1.lua, lock-release-1.lua", () => {
  const acquire = runtimeScript<number | null>("lock-acquire-1.lua");
  const extend = runtimeScript<number>("lock-extend-1.lua");
  const release = runtimeScript<number>("lock-release-1.lua");

  it("acquire answers the server time of the win, and nil while anyone holds the lock", async () => {
    const client = await fresh();
    const key = `${prefix}:lock`;
    const [seconds] = await client.time();
    const won = await acquire.run(client, [key], ["a", 10_000]);
    expect(won).toBeGreaterThanOrEqual(Number(seconds) * 1000);
    expect(await acquire.run(client, [key], ["b", 10_000])).toBeNull();
    expect(await acquire.run(client, [key], ["a", 10_000])).toBeNull();
    expect(await client.get(key)).toBe("a");
  });

  it("extend and release act on the holder's token only", async () => {
    const client = await fresh();
    const key = `${prefix}:lock`;
    await acquire.run(client, [key], ["a", 1_000]);
    expect(await extend.run(client, [key], ["b", 60_000])).toBe(0);
    expect(await client.pttl(key)).toBeLessThanOrEqual(1_000);
    expect(await extend.run(client, [key], ["a", 60_000])).toBe(1);
    expect(await client.pttl(key)).toBeGreaterThan(50_000);
    expect(await release.run(client, [key], ["b"])).toBe(0);
    expect(await client.get(key)).toBe("a");
    expect(await release.run(client, [key], ["a"])).toBe(1);
    expect(await client.exists(key)).toBe(0);
    // An expired (gone) lock is not the holder's any more: extending it does not bring it back.
    expect(await extend.run(client, [key], ["a", 60_000])).toBe(0);
    expect(await client.exists(key)).toBe(0);
  });
});
