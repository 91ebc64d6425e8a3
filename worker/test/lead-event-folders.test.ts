// A process killed while it sorts leaves its temporary folder: each is named after its process, so what a dead one
// left is found and removed (by a rebuild's parent when the child exits, and at the start of every rebuild).
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLLECTIONS, type EventDocument, sortKey } from "@leadscore/contracts";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { NODE_TS, ROOT, startProcess } from "../../test-support/processes.ts";
import { createStack, rebuildOptionsOf, type TestStack } from "../../test-support/worker-stack.ts";
import { removeLeadEventFolders, removeStaleLeadEventFolders } from "../src/lead-event-folders.ts";
import { streamLeadEvents } from "../src/lead-event-stream.ts";
import { withRebuildLock } from "../src/rebuild.ts";
import { rebuildInChild } from "../src/rebuild-child.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A temporary folder of the test's own, which the processes it starts take for the system's (TMPDIR). */
async function privateTmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "leadscore-tmp-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The id of a process that ran and is gone. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

async function folder(dir: string, name: string): Promise<void> {
  await mkdir(join(dir, name));
  await writeFile(join(dir, name, "bucket-0"), "{}\n");
}

describe("the lead event stream's temporary folders", () => {
  it("are named after the process that sorts", async () => {
    const stack = await createStack({ rules: false });
    cleanups.push(() => stack.close());
    await stack.db.collection(COLLECTIONS.events).insertOne({ _id: "e1", lead_id: "l1" } as never);
    const dir = await privateTmp();
    const stream = streamLeadEvents(stack.db, { tmpDir: dir });
    await stream.next();
    expect(await readdir(dir)).toEqual([expect.stringMatching(new RegExp(`^leadscore-leads-${process.pid}-`))]);
    await stream.return(undefined);
    expect(await readdir(dir)).toEqual([]);
  });

  it("of processes no longer running are removed; those of running ones and other files are kept", async () => {
    const dir = await privateTmp();
    const dead = await deadPid();
    await folder(dir, `leadscore-leads-${dead}-abc123`);
    await folder(dir, `leadscore-leads-${process.pid}-def456`);
    await folder(dir, "leadscore-leads-Xy12ab");
    await folder(dir, "something-else");
    expect(await removeStaleLeadEventFolders(dir)).toEqual([`leadscore-leads-${dead}-abc123`]);
    expect((await readdir(dir)).sort()).toEqual(
      ["leadscore-leads-Xy12ab", `leadscore-leads-${process.pid}-def456`, "something-else"].sort(),
    );
    expect(await removeLeadEventFolders(process.pid, dir)).toEqual([`leadscore-leads-${process.pid}-def456`]);
  });
});

/** `count` stored events over 50 leads, inserted as the worker stores them. */
async function storeEvents(stack: TestStack, count: number): Promise<void> {
  const events = stack.db.collection<EventDocument>(COLLECTIONS.events);
  const at = Date.parse("2026-01-01T00:00:00Z");
  for (let from = 0; from < count; from += 5_000) {
    await events.insertMany(
      Array.from({ length: Math.min(5_000, count - from) }, (_, n) => {
        const i = from + n;
        return {
          _id: `e${i}`,
          lead_id: `lead-${i % 50}`,
          event_type: "page_view",
          timestamp: new Date(at + i * 1_000),
          received_at: new Date(at + i * 1_000),
          metadata: {},
          points: 5,
          rule_id: "page_view",
          sort_key: sortKey(at + i * 1_000, `e${i}`),
        };
      }),
    );
  }
}

describe("when a rebuild's child process is killed mid-sort", () => {
  it("its parent removes the temporary folder the child left", async () => {
    const stack = await createStack();
    cleanups.push(() => stack.close());
    await storeEvents(stack, 20_000);
    const dir = await privateTmp();
    const before = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    cleanups.push(async () => {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    });
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    const options = rebuildOptionsOf(stack, redis);
    const run = withRebuildLock(redis, options.keys, (lock) =>
      rebuildInChild(stack.config, stack.config.REDIS_PREFIX)({ ...options, lock }),
    );
    const outcome = run.then(
      () => "rebuilt",
      (error: Error) => error.message,
    );
    // The child's folder, once it holds the first of its buckets.
    let seen: { name: string; files: number } | undefined;
    while (seen === undefined) {
      // (The TypeScript loader keeps its cache in the same folder.)
      for (const name of (await readdir(dir)).filter((entry) => entry.startsWith("leadscore-leads-"))) {
        const files = await readdir(join(dir, name)).catch(() => []);
        if (files.length > 0) seen = { name, files: files.length };
      }
      if (seen === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const pid = Number(/^leadscore-leads-(\d+)-/.exec(seen.name)?.[1]);
    expect(pid).not.toBe(process.pid);
    process.kill(pid, "SIGKILL");

    expect(await outcome).toBe("the rebuild process exited (SIGKILL) before it ended");
    expect(seen.files).toBeGreaterThan(0);
    expect((await readdir(dir)).filter((entry) => entry.startsWith("leadscore-leads-"))).toEqual([]);
  }, 120_000);
});

describe("npm run rebuild", () => {
  it("removes, before it rebuilds, the folders of rebuilds whose process is gone", async () => {
    const stack = await createStack();
    cleanups.push(() => stack.close());
    const dir = await privateTmp();
    const stale = `leadscore-leads-${await deadPid()}-abc123`;
    await folder(dir, stale);
    await folder(dir, `leadscore-leads-${process.pid}-def456`);
    const cli = spawn(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/rebuild-cli.ts"], {
      cwd: ROOT,
      env: { ...process.env, ...stack.env, LOG_LEVEL: "warn", TMPDIR: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    cli.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    cli.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise((resolve) => cli.once("exit", resolve));
    expect({ code, output }).toMatchObject({ code: 0, output: expect.stringContaining("rebuilt 0 leads") });
    expect(output).toContain(stale);
    expect((await readdir(dir)).filter((entry) => entry.startsWith("leadscore-leads-"))).toEqual([
      `leadscore-leads-${process.pid}-def456`,
    ]);
  }, 120_000);
});

describe("a worker process", () => {
  it("removes, as it starts, the folders of processes killed while they sorted", async () => {
    const stack = await createStack();
    cleanups.push(() => stack.close());
    // A first start builds the live state, so the next one starts no rebuild (which would sweep them too).
    const first = await stack.startWorker();
    await first.close();
    const dir = await privateTmp();
    const stale = `leadscore-leads-${await deadPid()}-abc123`;
    await folder(dir, stale);
    await folder(dir, `leadscore-leads-${process.pid}-def456`);
    const worker = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "worker/src/main.ts"], {
      ...stack.env,
      LOG_LEVEL: "info",
      TMPDIR: dir,
    });
    cleanups.push(() => worker.stop("SIGKILL"));
    await worker.waitFor(/worker ready/, 60_000);
    expect(worker.output()).toContain(stale);
    expect(worker.output()).not.toContain("rebuilt");
    expect((await readdir(dir)).filter((entry) => entry.startsWith("leadscore-leads-"))).toEqual([
      `leadscore-leads-${process.pid}-def456`,
    ]);
  }, 120_000);
});
