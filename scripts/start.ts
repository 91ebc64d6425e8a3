// `npm start`: backing services up, then edge (Deno), worker, webhook dispatcher and realtime; prints the URLs; Ctrl-C stops
// everything it started.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ConfigError, EdgeConfigSchema, parseConfig, RealtimeConfigSchema } from "@leadscore/contracts";
import { createRedis, redisPersistence, volatileRedisRefusal } from "@leadscore/runtime";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { ensureServices, ROOT, type StartedService, stopServices } from "./services.ts";

const BIN = join(ROOT, "node_modules", ".bin");

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

function prefixed(name: string, child: ChildProcess) {
  const pad = name.padEnd(8);
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = "";
    stream?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(`${pad}| ${line}\n`);
    });
  }
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main() {
  let edgeConfig: ReturnType<typeof parseConfig<typeof EdgeConfigSchema>>;
  let realtimeConfig: ReturnType<typeof parseConfig<typeof RealtimeConfigSchema>>;
  try {
    edgeConfig = parseConfig(EdgeConfigSchema, process.env);
    realtimeConfig = parseConfig(RealtimeConfigSchema, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  for (const [name, port] of [
    ["edge (PORT)", edgeConfig.PORT],
    ["realtime (REALTIME_PORT)", realtimeConfig.REALTIME_PORT],
  ] as const) {
    if (!(await portFree(port))) {
      console.error(`${name}: port ${port} is already in use — is another \`npm start\` running?`);
      process.exit(1);
    }
  }

  let started: StartedService[] = [];
  try {
    started = await ensureServices(process.env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }

  // Whether a 202 means anything: said before anything starts, and refused in production on a Redis that would lose
  // accepted events (the edge refuses it too).
  const redis = createRedis(edgeConfig, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const persistence = await redis
    .connect()
    .then(() => redisPersistence(redis))
    .finally(() => redis.disconnect());
  const refusal = volatileRedisRefusal(persistence, edgeConfig);
  if (refusal !== null) {
    console.error(refusal);
    await stopServices(
      started.map((s) => s.name),
      console.log,
    );
    process.exit(2);
  }
  console.log(`redis: ${persistence.summary}`);

  if (existsSync(join(ROOT, "web", "index.html"))) {
    console.log("web: building the dashboard…");
    const build = spawn(join(BIN, "vite"), ["build", "--logLevel", "warn"], {
      cwd: join(ROOT, "web"),
      // The dashboard looks for Socket.io on its own host at this port.
      env: { ...process.env, VITE_REALTIME_PORT: String(realtimeConfig.REALTIME_PORT) },
      stdio: "inherit",
    });
    const code = await new Promise<number | null>((resolve) => build.once("exit", resolve));
    if (code !== 0) console.error("web: the dashboard build failed; the API still runs");
  }

  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
            child.once("exit", () => {
              clearTimeout(force);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
    await stopServices(
      started.map((s) => s.name),
      console.log,
    );
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));

  const run = (name: string, command: string, args: string[]) => {
    const child = spawn(command, args, { cwd: ROOT, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    prefixed(name, child);
    child.once("exit", (code, signal) => {
      if (stopping) return;
      console.error(`${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    });
    children.push({ name, child });
  };
  run("edge", join(BIN, "deno"), ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "edge/main.ts"]);
  run("worker", join(BIN, "tsx"), [...WORKER_NODE_FLAGS, "worker/src/main.ts"]);
  run("dispatcher", join(BIN, "tsx"), ["webhooks/src/main.ts"]);
  run("realtime", join(BIN, "tsx"), ["realtime/src/main.ts"]);

  const base = `http://localhost:${edgeConfig.PORT}`;
  if (!(await waitReady(`${base}/readyz`, 60_000))) {
    console.error("edge did not become ready within 60 s");
    return stop(1);
  }
  const devSecrets = edgeConfig.NODE_ENV !== "production";
  console.log(
    [
      "",
      "Leadscore is up.",
      `  dashboard   ${base}/`,
      `  API         ${base}/api   (health ${base}/healthz, readiness ${base}/readyz, metrics ${base}/metrics)`,
      `  realtime    ws://localhost:${realtimeConfig.REALTIME_PORT}`,
      `  redis       ${persistence.volatile ? "WARNING: " : ""}${persistence.summary}`,
      ...(devSecrets
        ? [
            `  write key   ${edgeConfig.WRITE_KEYS[0]}`,
            `  read token  ${edgeConfig.READ_TOKENS[0]}   (the dashboard's access token)`,
            `  admin token ${edgeConfig.ADMIN_TOKEN}`,
          ]
        : []),
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
}

void main();
