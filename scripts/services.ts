// Makes sure the backing services (Redis, MongoDB) answer, starting project-local ones when nothing does.
// Used by `npm start`, `npm test` and `.ci/run`. Never touches a service it did not start.
//   tsx scripts/services.ts [up|down|status] [--quiet] [--ferretdb-binary]
// `--ferretdb-binary` also builds .data/bin/ferretdb when Go is installed, even if a MongoDB already answers: the
// fault-injection tests start FerretDB servers of their own.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DATA = join(ROOT, ".data");
const RUN = join(DATA, "run");
const LOGS = join(DATA, "logs");
const FERRETDB_SOURCE = join(ROOT, "services", "ferretdb");
export const FERRETDB_BIN = join(DATA, "bin", "ferretdb");

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
export const DEFAULT_MONGO_URL = "mongodb://127.0.0.1:27017/leadscore";

export interface StartedService {
  name: "redis" | "mongodb";
  pid: number;
  what: string;
}

type Say = (line: string) => void;

function hostPort(url: string, fallbackPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { host, port: parsed.port ? Number(parsed.port) : fallbackPort };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/** True when something at the address answers the Redis protocol. */
export function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPort(url, 6379);
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on("error", () => finish(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    // +PONG, or -NOAUTH from a password-protected server: either way Redis is there.
    socket.on("data", (data) => finish(data[0] === 0x2b || data[0] === 0x2d));
  });
}

/** Whether `command` succeeds against the server at `url` within the given timeouts. */
async function mongoDoes(
  url: string,
  timeouts: { connectMs: number; socketMs?: number },
  command: (client: MongoClient) => Promise<unknown>,
): Promise<boolean> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: timeouts.connectMs,
    connectTimeoutMS: timeouts.connectMs,
    ...(timeouts.socketMs === undefined ? {} : { socketTimeoutMS: timeouts.socketMs }),
  });
  try {
    await client.connect();
    await command(client);
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** True when a MongoDB-compatible server answers `ping` at the URL. */
export function mongoAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  return mongoDoes(url, { connectMs: timeoutMs }, (client) => client.db("admin").command({ ping: 1 }));
}

/**
 * Whether the server serves commands, not only pings. FerretDB 1.x can deadlock on concurrent updates (each holds
 * SQLite connections until its command ends): it then still answers `ping` while every command touching the stuck
 * database waits forever. `listDatabases` touches them all, so it hangs then, and the socket timeout says so.
 */
export function mongoServes(url: string, timeoutMs = 10_000): Promise<boolean> {
  return mongoDoes(url, { connectMs: 1500, socketMs: timeoutMs }, (client) =>
    client.db("admin").admin().listDatabases(),
  );
}

function hasCommand(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function spawnDetached(name: string, command: string, args: string[]): ChildProcess {
  mkdirSync(LOGS, { recursive: true });
  mkdirSync(RUN, { recursive: true });
  const out = openSync(join(LOGS, `${name}.log`), "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out], cwd: ROOT });
  closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  writeFileSync(join(RUN, `${name}.pid`), String(child.pid));
  return child;
}

async function waitFor(check: () => Promise<boolean>, child: ChildProcess, what: string, timeoutMs = 60_000) {
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up; see ${LOGS}`);
}

/**
 * FerretDB 1.24.2's SQLite backend pushes an `_id` equality down as `_ferretdb_sjson->'$._id' = ?`, an expression its
 * `_id_` index (on `_ferretdb_sjson->"_id"`) does not serve: every find, update and delete by `_id` scanned the table
 * (SQLite's plan `SCAN`; docs/worker.md § Restarts). The build patches that one constant in a copy of the module.
 */
const FERRETDB_PATCH = {
  file: join("internal", "backends", "sqlite", "metadata", "metadata.go"),
  from: `IDColumn = DefaultColumn + "->'$._id'"`,
  to: `IDColumn = DefaultColumn + "->'_id'"`,
};
/** Written beside the binary once built with the patch: a binary without it is built again. */
const FERRETDB_PATCHED = `${FERRETDB_BIN}.patched`;

function ferretdbIsCurrent(): boolean {
  if (!existsSync(FERRETDB_BIN) || !existsSync(FERRETDB_PATCHED)) return false;
  if (readFileSync(FERRETDB_PATCHED, "utf8") !== FERRETDB_PATCH.to) return false;
  const built = statSync(FERRETDB_BIN).mtimeMs;
  return ["go.mod", "go.sum", "main.go"].every((file) => statSync(join(FERRETDB_SOURCE, file)).mtimeMs <= built);
}

function buildFerretdb(say: Say) {
  if (ferretdbIsCurrent()) return;
  say("mongodb: building FerretDB v1.24.2 from the Go module proxy (first run only, about a minute)…");
  mkdirSync(dirname(FERRETDB_BIN), { recursive: true });
  const go = (args: string[]) => execFileSync("go", args, { cwd: FERRETDB_SOURCE, encoding: "utf8" });
  // The module as the proxy serves it, copied and patched; the build reads a go.mod of its own that points at the copy.
  const { Dir } = JSON.parse(go(["mod", "download", "-json", "github.com/FerretDB/FerretDB"])) as { Dir: string };
  const copy = join(DATA, "ferretdb-src");
  rmSync(copy, { recursive: true, force: true });
  cpSync(Dir, copy, { recursive: true });
  execFileSync("chmod", ["-R", "u+w", copy]);
  const patched = join(copy, FERRETDB_PATCH.file);
  const text = readFileSync(patched, "utf8");
  if (!text.includes(FERRETDB_PATCH.from))
    throw new Error(`FerretDB's ${FERRETDB_PATCH.file} no longer has the line patched`);
  writeFileSync(patched, text.replace(FERRETDB_PATCH.from, FERRETDB_PATCH.to));
  const modfile = join(DATA, "ferretdb-build.mod");
  writeFileSync(modfile, readFileSync(join(FERRETDB_SOURCE, "go.mod")));
  writeFileSync(modfile.replace(/\.mod$/, ".sum"), readFileSync(join(FERRETDB_SOURCE, "go.sum")));
  go(["mod", "edit", `-replace=github.com/FerretDB/FerretDB=${copy}`, modfile]);
  execFileSync("go", ["build", `-modfile=${modfile}`, "-o", FERRETDB_BIN, "."], {
    cwd: FERRETDB_SOURCE,
    stdio: "inherit",
  });
  writeFileSync(FERRETDB_PATCHED, FERRETDB_PATCH.to);
}

/**
 * The Redis the environment names: a Redis Cluster (REDIS_CLUSTER_NODES) is never started here, only looked for
 * (`npm run redis-cluster -- up` starts a local one); a single Redis at REDIS_URL is started when nothing answers.
 */
export async function ensureRedisOf(env: Record<string, string | undefined>, say: Say): Promise<StartedService | null> {
  const nodes = (env.REDIS_CLUSTER_NODES ?? "")
    .split(",")
    .map((node) => node.trim())
    .filter(Boolean);
  if (nodes.length === 0) return ensureRedis(env.REDIS_URL || DEFAULT_REDIS_URL, say);
  for (const node of nodes) {
    if (await redisAnswers(`redis://${node}`)) {
      say(`redis: cluster node up at ${node}`);
      return null;
    }
  }
  throw new Error(
    `redis: no node of REDIS_CLUSTER_NODES answers (${nodes.join(", ")}); start a local cluster with: npm run redis-cluster -- up`,
  );
}

async function ensureRedis(url: string, say: Say): Promise<StartedService | null> {
  const { host, port } = hostPort(url, 6379);
  if (await redisAnswers(url)) {
    say(`redis: already up at ${host}:${port}`);
    return null;
  }
  if (!isLoopback(host)) throw new Error(`redis: nothing answers at ${url} and it is not a local address`);
  if (!hasCommand("redis-server")) {
    throw new Error(
      `redis: nothing answers at ${url}. Install Redis (apt-get install redis-server) or run: docker compose -f docker-compose.services.yml up -d redis`,
    );
  }
  const dir = join(DATA, "redis");
  mkdirSync(dir, { recursive: true });
  const child = spawnDetached("redis", "redis-server", [
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--dir",
    dir,
    // Every acknowledged write is in the append-only file, so restarting this Redis loses no queued event.
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--save",
    "",
  ]);
  await waitFor(() => redisAnswers(url), child, "redis");
  say(`redis: started redis-server at 127.0.0.1:${port} (pid ${child.pid}, append-only, data in .data/redis)`);
  return { name: "redis", pid: child.pid ?? 0, what: "redis-server" };
}

async function ensureMongo(url: string, say: Say): Promise<StartedService | null> {
  const { host, port } = hostPort(url, 27017);
  if (await mongoAnswers(url)) {
    if (await mongoServes(url)) {
      say(`mongodb: already up at ${host}:${port}`);
      return null;
    }
    if (!startedHere("mongodb")) {
      throw new Error(`mongodb: ${host}:${port} answers ping but not commands; restart that server`);
    }
    say("mongodb: FerretDB answers ping but no longer serves commands (it deadlocked); restarting it");
    await stopServices(["mongodb"], say);
  }
  if (!isLoopback(host)) throw new Error(`mongodb: nothing answers at ${url} and it is not a local address`);
  if (hasCommand("mongod")) {
    const dir = join(DATA, "mongod");
    mkdirSync(dir, { recursive: true });
    const child = spawnDetached("mongodb", "mongod", [
      "--dbpath",
      dir,
      "--port",
      String(port),
      "--bind_ip",
      "127.0.0.1",
    ]);
    await waitFor(() => mongoAnswers(url), child, "mongod");
    say(`mongodb: started mongod at 127.0.0.1:${port} (pid ${child.pid}, data in .data/mongod)`);
    return { name: "mongodb", pid: child.pid ?? 0, what: "mongod" };
  }
  if (!hasCommand("go")) {
    throw new Error(
      `mongodb: nothing answers at ${url}, and neither mongod nor Go (to build FerretDB) is installed. ` +
        "Install MongoDB or Go 1.26+, or run: docker compose -f docker-compose.services.yml up -d",
    );
  }
  buildFerretdb(say);
  const dir = join(DATA, "ferretdb");
  mkdirSync(dir, { recursive: true });
  const child = spawnDetached("mongodb", FERRETDB_BIN, [
    `--listen-addr=127.0.0.1:${port}`,
    "--handler=sqlite",
    `--sqlite-url=file:${dir}/`,
    "--log-level=error",
  ]);
  await waitFor(() => mongoAnswers(url), child, "FerretDB");
  say(`mongodb: started FerretDB at 127.0.0.1:${port} (pid ${child.pid}, data in .data/ferretdb)`);
  return { name: "mongodb", pid: child.pid ?? 0, what: "FerretDB" };
}

/** Brings Redis and MongoDB up if they do not answer; returns what it started. */
export async function ensureServices(
  env: Record<string, string | undefined> = process.env,
  say: Say = (line) => console.log(line),
): Promise<StartedService[]> {
  const started: StartedService[] = [];
  const redis = await ensureRedisOf(env, say);
  if (redis) started.push(redis);
  const mongo = await ensureMongo(env.MONGO_URL || DEFAULT_MONGO_URL, say);
  if (mongo) started.push(mongo);
  return started;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a service of that name was started by this script and still runs (by its pid file). */
function startedHere(name: StartedService["name"]): boolean {
  const file = join(RUN, `${name}.pid`);
  return existsSync(file) && alive(Number(readFileSync(file, "utf8")));
}

/** Stops services this project started (by pid file), waiting for each to exit. */
export async function stopServices(names: StartedService["name"][] = ["redis", "mongodb"], say: Say = console.log) {
  for (const name of names) {
    const file = join(RUN, `${name}.pid`);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, "utf8"));
    if (alive(pid)) {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      // A deadlocked FerretDB may not finish its shutdown.
      if (alive(pid)) process.kill(pid, "SIGKILL");
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      say(`${name}: stopped (pid ${pid})`);
    }
    rmSync(file, { force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const quiet = args.includes("--quiet");
  const command = args.find((arg) => !arg.startsWith("--")) ?? "up";
  const say: Say = quiet ? () => undefined : (line) => console.log(line);
  if (command === "up") {
    if (args.includes("--ferretdb-binary") && hasCommand("go")) buildFerretdb(say);
    const started = await ensureServices(process.env, say);
    if (quiet && started.length > 0) console.log(`services: started ${started.map((s) => s.what).join(", ")}`);
  } else if (command === "down") {
    await stopServices(["redis", "mongodb"], console.log);
  } else if (command === "status") {
    const redis = await redisAnswers(process.env.REDIS_URL || DEFAULT_REDIS_URL);
    const mongo = await mongoAnswers(process.env.MONGO_URL || DEFAULT_MONGO_URL);
    console.log(`redis: ${redis ? "up" : "down"}\nmongodb: ${mongo ? "up" : "down"}`);
    process.exitCode = redis && mongo ? 0 : 1;
  } else {
    console.error(`services: unknown command ${command} (up, down, status)`);
    process.exitCode = 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
