// A private Leadscore stack for one run: the edge under Deno and N workers as child processes, on a free port,
// with their own Redis prefix and MongoDB database; stop() ends them and removes every trace.
import { join } from "node:path";
import { mongoDatabaseName } from "@leadscore/contracts";
import { MongoClient } from "mongodb";
import { createTestRedis, REDIS_URL, uniqueMongoUrl, uniqueName } from "../../test-support/index.ts";
import {
  BIN,
  DENO_EDGE_ARGS,
  loggedPort,
  NODE_TS,
  type RunningProcess,
  startProcess,
  WORKER_ARGS,
} from "../../test-support/processes.ts";

export interface LocalStack {
  baseUrl: string;
  writeKey: string;
  mongoUrl: string;
  dbName: string;
  redisUrl: string;
  redisPrefix: string;
  scoreCap: number;
  /** Each worker's `/metrics` (its lag histogram counts every event it scores). */
  workerMetricsUrls: string[];
  /** The output of every process, for a report when something dies. */
  output(): string;
  /** A process that exited before stop(), if any. */
  crashed(): string | null;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  workers: number;
  writeKey: string;
  scoreCap: number;
  log?: (line: string) => void;
}

async function waitReady(url: string, processes: RunningProcess[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = processes.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
    if (dead) throw new Error(`a stack process exited during start-up:\n${dead.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} not ready within ${timeoutMs / 1000} s:\n${processes.map((p) => p.output()).join("\n")}`);
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const redisPrefix = uniqueName("load");
  const mongoUrl = uniqueMongoUrl(redisPrefix);
  const env = {
    NODE_ENV: "development",
    REDIS_URL,
    MONGO_URL: mongoUrl,
    REDIS_PREFIX: redisPrefix,
    WRITE_KEYS: options.writeKey,
    SCORE_CAP: String(options.scoreCap),
    // The limiter guards production from one abusive client; here every request comes from one address on purpose.
    RATE_LIMIT_PER_SECOND: "10000000",
    // Per-request logs at this rate would measure the terminal, not the system.
    LOG_LEVEL: "warn",
  };
  const names: string[] = [];
  const processes: RunningProcess[] = [];
  const stopping = { value: false };
  const spawn = (name: string, command: string, args: string[], extra: Record<string, string> = {}) => {
    const running = startProcess(command, args, { ...env, ...extra });
    names.push(name);
    processes.push(running);
    return running;
  };
  // Port 0: the edge takes a free port and names it in its one info line.
  const edge = spawn("edge", join(BIN, "deno"), DENO_EDGE_ARGS, { PORT: "0", LOG_LEVEL: "info" });
  // Each worker serves /metrics on a port of its own, named in its info line (its other info lines: one every 10 s).
  const workers = Array.from({ length: options.workers }, (_, i) =>
    spawn(`worker-${i + 1}`, NODE_TS[0], WORKER_ARGS, {
      METRICS_PORT: "0",
      LOG_LEVEL: "info",
    }),
  );

  const stop = async () => {
    stopping.value = true;
    await Promise.all(processes.map((p) => p.stop("SIGTERM", 15_000).catch(() => undefined)));
    const client = new MongoClient(mongoUrl);
    try {
      await client.connect();
      await client.db(mongoDatabaseName(mongoUrl)).dropDatabase();
    } catch {
      // Nothing to drop if the database was never created.
    } finally {
      await client.close();
    }
    const redis = await createTestRedis(redisPrefix);
    await redis.cleanup();
  };

  let baseUrl = "";
  const workerMetricsUrls: string[] = [];
  try {
    for (const worker of workers) {
      workerMetricsUrls.push(
        `http://127.0.0.1:${await loggedPort(worker, "worker metrics listening", 90_000)}/metrics`,
      );
    }
    const port = await loggedPort(edge, "edge listening", 90_000);
    options.log?.(
      `stack: edge on :${port}, ${options.workers} worker(s), Redis prefix ${redisPrefix}, database ${redisPrefix}`,
    );
    baseUrl = `http://127.0.0.1:${port}`;
    await waitReady(`${baseUrl}/readyz`, processes, 90_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl,
    writeKey: options.writeKey,
    mongoUrl,
    dbName: mongoDatabaseName(mongoUrl),
    redisUrl: REDIS_URL,
    redisPrefix,
    scoreCap: options.scoreCap,
    workerMetricsUrls,
    output: () => processes.map((p, i) => `--- ${names[i]}\n${p.output()}`).join("\n"),
    crashed() {
      if (stopping.value) return null;
      const index = processes.findIndex((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      return index === -1
        ? null
        : `${names[index]} exited (${processes[index]?.child.exitCode ?? processes[index]?.child.signalCode})`;
    },
    stop,
  };
}
