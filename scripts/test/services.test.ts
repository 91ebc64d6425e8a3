import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, fixedPort, REDIS_URL } from "../../test-support/index.ts";
import { type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { ensureRedisOf, FERRETDB_BIN, mongoAnswers, mongoServes } from "../services.ts";

/** A FerretDB of the test's own, from the binary the services script builds, in a folder removed after. */
function ownFerretdb(database: string) {
  const own = { url: "", server: undefined as RunningProcess | undefined, dir: "" };
  beforeAll(async () => {
    own.dir = mkdtempSync(join(tmpdir(), "ferretdb-"));
    const port = await fixedPort();
    own.url = `mongodb://127.0.0.1:${port}/${database}`;
    own.server = startProcess(FERRETDB_BIN, [
      `--listen-addr=127.0.0.1:${port}`,
      "--handler=sqlite",
      `--sqlite-url=file:${own.dir}/`,
      "--log-level=error",
    ]);
    await eventually(() => mongoAnswers(own.url), 30_000);
  }, 40_000);
  afterAll(async () => {
    await own.server?.stop("SIGKILL");
    rmSync(own.dir, { recursive: true, force: true });
  });
  return own;
}

describe("the embedded store the services script builds", () => {
  const own = ownFerretdb("reads");
  it("serves an _id equality from the _id index, not by scanning the collection", async () => {
    const client = new MongoClient(own.url);
    await client.connect();
    try {
      const docs = client.db().collection<{ _id: string; n: number }>("docs");
      await docs.insertMany(Array.from({ length: 100 }, (_, i) => ({ _id: `d-${i}`, n: i })));
      const plan = JSON.stringify(
        ((await docs.find({ _id: "d-99" }).explain()) as { queryPlanner?: unknown }).queryPlanner,
      );
      expect(plan).toMatch(/USING INDEX \S+__id_/);
      expect(await docs.findOne({ _id: "d-99" })).toEqual({ _id: "d-99", n: 99 });
      await docs.updateOne({ _id: "d-98" }, { $set: { n: 0 } });
      expect(await docs.findOne({ _id: "d-98" })).toEqual({ _id: "d-98", n: 0 });
      await docs.deleteOne({ _id: "d-97" });
      expect(await docs.countDocuments({})).toBe(99);
    } finally {
      await client.close();
    }
  }, 60_000);
});

describe("the services check, when FerretDB deadlocks", () => {
  const own = ownFerretdb("stuck");

  it("tells a server that only answers ping from one that serves commands", async () => {
    expect(await mongoServes(own.url)).toBe(true);
    // Many concurrent update commands, each matching 25 documents, exhaust its SQLite connections for good.
    const client = new MongoClient(own.url);
    await client.connect();
    try {
      const docs = client.db().collection<{ _id: string; n: number }>("docs");
      await docs.insertMany(Array.from({ length: 400 }, (_, i) => ({ _id: `d-${i}`, n: 0 })));
      const chunks = Array.from({ length: 16 }, (_, k) => Array.from({ length: 25 }, (_, i) => `d-${k * 25 + i}`));
      let round = 0;
      const contend = () => {
        round += 1;
        for (const ids of chunks) {
          docs
            .bulkWrite(ids.map((_id) => ({ updateOne: { filter: { _id }, update: { $set: { n: round } } } })))
            .catch(() => undefined);
        }
      };
      // The deadlock needs the updates to interleave, which one round does not always achieve: another round goes in
      // at each look that finds the server still serving. However long it takes to get stuck, once stuck it stays
      // so: a busy server would answer the second, longer look (the services check's own timeout); a stuck one not.
      await eventually(async () => {
        contend();
        return !(await mongoServes(own.url, 3_000));
      }, 45_000);
      expect(await mongoAnswers(own.url)).toBe(true);
      expect(await mongoServes(own.url)).toBe(false);
    } finally {
      await client.close(true).catch(() => undefined);
    }
  }, 90_000);
});

describe("the services check, when REDIS_CLUSTER_NODES names a Redis Cluster", () => {
  it("starts no Redis, and names the nodes when none answers", async () => {
    const port = await fixedPort();
    const said: string[] = [];
    const env = { REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, REDIS_URL: `redis://127.0.0.1:${await fixedPort()}` };
    await expect(ensureRedisOf(env, (line) => said.push(line))).rejects.toThrow(
      new RegExp(`no node of REDIS_CLUSTER_NODES answers \\(127\\.0\\.0\\.1:${port}\\)`),
    );
    expect(said).toEqual([]);
  });

  it("takes a node that answers as the cluster's, and starts nothing", async () => {
    // Only whether a node answers is looked at: the suites' own Redis stands in for one.
    const node = new URL(REDIS_URL).host;
    const said: string[] = [];
    const env = { REDIS_CLUSTER_NODES: `127.0.0.1:${await fixedPort()},${node}` };
    expect(await ensureRedisOf(env, (line) => said.push(line))).toBeNull();
    expect(said).toEqual([`redis: cluster node up at ${node}`]);
  });
});
