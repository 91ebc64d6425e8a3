// A private Leadscore stack for fault tests: its own redis-server (append-only, fsync on every write) and FerretDB on
// free ports with data in a temporary folder, the edge under Deno and worker processes pointed at them. Every piece
// can be killed and started again on the same port and data, and `stop()` ends whatever is still running and
// removes the folder, whatever state the test left it in.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVENTS_QUEUE } from "@leadscore/runtime";
import Queue from "bull";
import { Redis } from "ioredis";
import { type Db, MongoClient } from "mongodb";
import { FERRETDB_BIN, mongoAnswers } from "../../scripts/services.ts";
import { fixedPort, uniqueName } from "../../test-support/index.ts";
import {
  BIN,
  DENO_EDGE_ARGS,
  loggedPort,
  NODE_TS,
  type RunningProcess,
  startProcess,
  WORKER_ARGS,
} from "../../test-support/processes.ts";

export interface StackOptions {
  /** Extra environment for the edge (e.g. QUEUE_MAX_DEPTH). */
  edgeEnv?: Record<string, string>;
  /** Extra environment for the workers (e.g. JOB_LOCK_MS). */
  workerEnv?: Record<string, string>;
  writeKey?: string;
  /**
   * Redis's `appendfsync`: `always` (default) puts every write on disk before its reply; `everysec` once a second,
   * so a crash of the Redis process loses up to a second of writes.
   */
  redisFsync?: "always" | "everysec";
  /** The port of the Redis the stack kills and restarts (default: FAULT_REDIS_PORT, else a free one). */
  redisPort?: number;
}

export interface FaultStack {
  readonly dir: string;
  readonly redisUrl: string;
  readonly mongoUrl: string;
  readonly prefix: string;
  readonly writeKey: string;
  /** The current edge's base URL; changes when the edge is replaced. */
  readonly edgeUrl: string;
  /** A Redis client that reconnects on its own (for checks, not for the system under test). */
  readonly redis: Redis;
  readonly db: Db;
  readonly queue: Queue.Queue;
  /** Starts an edge (with extra environment, e.g. another REDIS_URL); resolves with its base URL. */
  startEdge(env?: Record<string, string>): Promise<string>;
  killEdge(): Promise<void>;
  startWorker(): Promise<RunningProcess>;
  /** SIGKILLs the worker at `index` (no chance to finish or release its jobs). */
  killWorker(index: number): Promise<void>;
  /** Stops Redis with SIGTERM (it writes its append-only file) and starts it again on the same port and folder. */
  restartRedis(downMs?: number): Promise<void>;
  /** SIGKILLs Redis (no chance to write anything more) and starts it again on the same port and folder. */
  crashRedis(downMs?: number): Promise<void>;
  /** Kills the MongoDB-compatible server, keeps it down for `downMs`, and starts it again on the same data. */
  outageMongo(downMs: number): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the MongoDB-compatible server: its clients' requests hang meanwhile. */
  freezeMongo(frozen: boolean): void;
  /** Output of every process started so far, for a failure report. */
  output(): string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `work`, or nothing once `ms` have passed (a client closing towards a dead server may never finish). */
const within = (ms: number, work: Promise<unknown>) => Promise.race([work.catch(() => undefined), sleep(ms)]);

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

function alive(process: RunningProcess): boolean {
  return process.child.exitCode === null && process.child.signalCode === null;
}

export async function startFaultStack(options: StackOptions = {}): Promise<FaultStack> {
  if (!existsSync(FERRETDB_BIN)) {
    throw new Error(`${FERRETDB_BIN} is missing: run \`npx tsx scripts/services.ts\` once to build it`);
  }
  const dir = await mkdtemp(join(tmpdir(), "leadscore-faults-"));
  const redisDir = join(dir, "redis");
  const mongoDir = join(dir, "ferretdb");
  await mkdir(redisDir);
  await mkdir(mongoDir);
  // FAULT_REDIS_PORT pins the Redis this stack kills and restarts to a port of the caller's choosing.
  const redisPort =
    options.redisPort ?? (process.env.FAULT_REDIS_PORT ? Number(process.env.FAULT_REDIS_PORT) : await fixedPort());
  const mongoPort = await fixedPort();
  const prefix = uniqueName("faults");
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const mongoUrl = `mongodb://127.0.0.1:${mongoPort}/${prefix}`;
  const writeKey = options.writeKey ?? "fault-write-key";

  const log: { name: string; process: RunningProcess }[] = [];
  let redisServer: RunningProcess | undefined;
  let mongoServer: RunningProcess | undefined;
  let edge: RunningProcess | undefined;
  let edgeUrl = "";
  const workers: RunningProcess[] = [];
  const track = (name: string, process: RunningProcess) => {
    log.push({ name, process });
    return process;
  };

  const startRedis = async () => {
    redisServer = track(
      "redis",
      startProcess("redis-server", [
        "--bind",
        "127.0.0.1",
        "--port",
        String(redisPort),
        "--dir",
        redisDir,
        // With `always`, every acknowledged write is on disk before the reply, so a restart loses nothing the edge
        // acknowledged.
        "--appendonly",
        "yes",
        "--appendfsync",
        options.redisFsync ?? "always",
        "--save",
        "",
      ]),
    );
    await redisServer.waitFor(/Ready to accept connections/, 30_000);
  };
  const startMongo = async () => {
    mongoServer = track(
      "ferretdb",
      startProcess(FERRETDB_BIN, [
        `--listen-addr=127.0.0.1:${mongoPort}`,
        "--handler=sqlite",
        `--sqlite-url=file:${mongoDir}/`,
        "--log-level=error",
      ]),
    );
    const started = mongoServer;
    await until(async () => alive(started) && (await mongoAnswers(mongoUrl, 500)), "ferretdb");
  };

  const env = {
    NODE_ENV: "test",
    REDIS_URL: redisUrl,
    MONGO_URL: mongoUrl,
    REDIS_PREFIX: prefix,
    WRITE_KEYS: writeKey,
    ADMIN_TOKEN: "fault-admin-token",
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_SECOND: "1000000",
  };

  await startRedis();
  await startMongo();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on("error", () => undefined);
  const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 60_000 });
  await mongo.connect();
  const db = mongo.db(prefix);
  const queue = new Queue(EVENTS_QUEUE, redisUrl, { prefix });
  queue.on("error", () => undefined);

  const stack: FaultStack = {
    dir,
    redisUrl,
    mongoUrl,
    prefix,
    writeKey,
    redis,
    db,
    queue,
    get edgeUrl() {
      return edgeUrl;
    },
    async startEdge(extra = {}) {
      edge = track(
        "edge",
        startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
          ...env,
          PORT: "0",
          LOG_LEVEL: "info",
          ...options.edgeEnv,
          ...extra,
        }),
      );
      const port = await loggedPort(edge, "edge listening", 60_000);
      edgeUrl = `http://127.0.0.1:${port}`;
      return edgeUrl;
    },
    async killEdge() {
      await edge?.stop("SIGKILL");
    },
    async startWorker() {
      const worker = track(
        `worker-${workers.length + 1}`,
        startProcess(NODE_TS[0], WORKER_ARGS, {
          ...env,
          LOG_LEVEL: "info",
          ...options.workerEnv,
        }),
      );
      workers.push(worker);
      await worker.waitFor(/worker ready/, 60_000);
      return worker;
    },
    async killWorker(index) {
      await workers[index]?.stop("SIGKILL");
    },
    async restartRedis(downMs = 0) {
      const code = await redisServer?.stop("SIGTERM", 20_000);
      if (code !== 0) throw new Error(`redis did not shut down cleanly (${code}):\n${redisServer?.output()}`);
      await sleep(downMs);
      await startRedis();
    },
    async crashRedis(downMs = 0) {
      await redisServer?.stop("SIGKILL");
      await sleep(downMs);
      await startRedis();
    },
    async outageMongo(downMs) {
      await mongoServer?.stop("SIGKILL");
      await sleep(downMs);
      await startMongo();
    },
    freezeMongo(frozen) {
      mongoServer?.child.kill(frozen ? "SIGSTOP" : "SIGCONT");
    },
    output() {
      return log.map(({ name, process }) => `--- ${name}\n${process.output()}`).join("\n");
    },
    async stop() {
      mongoServer?.child.kill("SIGCONT");
      const running = log.map(({ process }) => process).filter(alive);
      // The system first, then what it stands on; the folder goes whatever happens on the way.
      const system = running.filter((p) => p !== redisServer && p !== mongoServer);
      try {
        await Promise.allSettled(system.map((p) => p.stop("SIGKILL")));
        redis.disconnect();
        await Promise.allSettled([within(5_000, queue.close()), within(5_000, mongo.close(true))]);
      } finally {
        await Promise.allSettled(running.filter((p) => !system.includes(p)).map((p) => p.stop("SIGKILL")));
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  return stack;
}
