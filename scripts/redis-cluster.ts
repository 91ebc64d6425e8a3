// A local Redis Cluster of three masters (no replicas), for trying and testing the stack on a Cluster:
//   tsx scripts/redis-cluster.ts up [--ports 7001,7002,7003]   starts it, prints REDIS_CLUSTER_NODES
//   tsx scripts/redis-cluster.ts down                          stops the one `up` started
// Each node is a `redis-server --cluster-enabled yes` with its own folder under .data/redis-cluster (the CLI) or a
// temporary folder (tests), joined by `redis-cli --cluster create … --cluster-replicas 0`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI_DIR = join(ROOT, ".data", "redis-cluster");
const CLI_STATE = join(CLI_DIR, "nodes.json");
const HOST = "127.0.0.1";
const run = promisify(execFile);

export interface LocalRedisCluster {
  nodes: { host: string; port: number }[];
  /** `REDIS_CLUSTER_NODES` for these nodes. */
  env: string;
  /** Stops every node and, for a temporary folder, removes it. */
  stop(): Promise<void>;
}

/** Starts a node per port, joins them into one cluster of masters and waits until every slot is served. */
export async function startRedisCluster(
  ports: readonly number[],
  options: { dir?: string; detached?: boolean; busPorts?: readonly number[] } = {},
): Promise<LocalRedisCluster> {
  if (ports.length < 3) throw new Error("a Redis Cluster needs at least three masters");
  const temporary = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "leadscore-redis-cluster-")));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    if (temporary) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const nodeDir = join(dir, String(port));
      rmSync(nodeDir, { recursive: true, force: true });
      mkdirSync(nodeDir, { recursive: true });
      const child = spawn("redis-server", nodeArgs(port, nodeDir, options.busPorts?.[ports.indexOf(port)]), {
        cwd: nodeDir,
        detached: options.detached === true,
        stdio: "ignore",
      });
      children.push(child);
      if (options.detached) child.unref();
    }
    await Promise.all(ports.map((port) => waitForPing(port)));
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((port) => `${HOST}:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    await Promise.all(ports.map((port) => waitForClusterOk(port)));
  } catch (error) {
    await stop();
    throw error;
  }
  const nodes = ports.map((port) => ({ host: HOST, port }));
  return { nodes, env: nodes.map((node) => `${node.host}:${node.port}`).join(","), stop };
}

/** A node's arguments; its cluster bus on `busPort`, or Redis's own choice (the port + 10000) when not given. */
function nodeArgs(port: number, nodeDir: string, busPort?: number): string[] {
  return [
    ...(busPort === undefined ? [] : ["--cluster-port", String(busPort)]),
    "--port",
    String(port),
    "--bind",
    HOST,
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "5000",
    "--dir",
    nodeDir,
    // Append-only like the production Redis the edge insists on; no snapshots.
    "--appendonly",
    "yes",
    "--save",
    "",
  ];
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    child.kill("SIGTERM");
  });
}

/** Sends one inline command and resolves with the first reply, or null if nothing answers in time. */
function ask(port: number, command: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((done) => {
    const socket = connect({ host: HOST, port });
    let reply = "";
    const finish = (value: string | null) => {
      socket.destroy();
      done(value);
    };
    socket.setTimeout(timeoutMs, () => finish(null));
    socket.on("error", () => finish(null));
    socket.on("close", () => finish(null));
    socket.on("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (data) => {
      reply += data.toString();
      // A bulk reply (`$<n>`) is complete once its body and final CRLF arrived; a status reply at its first CRLF.
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if (bulk?.[1] === undefined ? reply.includes("\r\n") : reply.length >= bulk[0].length + Number(bulk[1]) + 2) {
        finish(reply);
      }
    });
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`redis cluster: ${what} timed out`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function waitForPing(port: number): Promise<void> {
  return waitUntil(`node ${port} answering`, async () => (await ask(port, "PING"))?.startsWith("+PONG") === true);
}

function waitForClusterOk(port: number): Promise<void> {
  return waitUntil(`node ${port} seeing every slot served`, async () => {
    const info = await ask(port, "CLUSTER INFO");
    return info?.includes("cluster_state:ok") === true;
  });
}

function parsePorts(args: string[]): number[] {
  const at = args.indexOf("--ports");
  const value = at >= 0 ? args[at + 1] : "7001,7002,7003";
  const ports = (value ?? "").split(",").map(Number);
  if (ports.length < 3 || !ports.every((port) => Number.isInteger(port) && port > 0 && port < 65536)) {
    throw new Error("--ports must be three or more ports, comma-separated");
  }
  return ports;
}

async function main(args: string[]): Promise<void> {
  const command = args[0] ?? "up";
  if (command === "up") {
    if (existsSync(CLI_STATE)) throw new Error(`a cluster is already up (${CLI_STATE}); run: down`);
    const cluster = await startRedisCluster(parsePorts(args), { dir: CLI_DIR, detached: true });
    writeFileSync(CLI_STATE, JSON.stringify({ nodes: cluster.nodes }));
    console.log(`redis cluster up, 3 masters. Run the stack on it with:`);
    console.log(`  REDIS_CLUSTER_NODES=${cluster.env} REDIS_PREFIX={leadscore}`);
    return;
  }
  if (command === "down") {
    if (!existsSync(CLI_STATE)) return console.log("no redis cluster up");
    const { nodes } = JSON.parse(readFileSync(CLI_STATE, "utf8")) as LocalRedisCluster;
    // SHUTDOWN NOSAVE: the nodes are the ones `up` started (their ports are in its state file), not ours to keep.
    for (const node of nodes) await ask(node.port, "SHUTDOWN NOSAVE");
    rmSync(CLI_DIR, { recursive: true, force: true });
    return console.log("redis cluster down");
  }
  throw new Error(`unknown command ${command}: up | down`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
