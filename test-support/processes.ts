import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { fixedPort } from "./index.ts";

export const ROOT = resolve(import.meta.dirname, "..");
export const BIN = join(ROOT, "node_modules", ".bin");

export interface RunningProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process exits by itself; kills it after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | string>;
  /** Sends the signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/**
 * Node with the tsx loader, for a TypeScript entry point: one process (the `tsx` command is a launcher with the
 * script in a child), so every signal, SIGKILL too, reaches the script itself.
 */
export const NODE_TS = [process.execPath, "--import", "tsx"] as const;

/** The arguments of a worker process after `NODE_TS[0]`, with the Node flags every launcher gives it. */
export const WORKER_ARGS = [...WORKER_NODE_FLAGS, ...NODE_TS.slice(1), "worker/src/main.ts"];

export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): RunningProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return {
    child,
    output: () => text,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${text}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`process exited before ${pattern}; output:\n${text}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off("exit", onExit);
        };
        listeners.add(check);
        child.once("exit", onExit);
        check();
      });
    },
    async exited(timeoutMs = 60_000) {
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async stop(signal = "SIGTERM", timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * The port a process bound, read from the line it logs once listening (`{"msg":"<message>","port":N}`): servers
 * started by tests listen on port 0 and say which port they got.
 */
export async function loggedPort(running: RunningProcess, message: string, timeoutMs?: number): Promise<number> {
  const match = await running.waitFor(new RegExp(`"msg":"${message}","port":(\\d+)`), timeoutMs);
  return Number(match[1]);
}

export const DENO_EDGE_ARGS = ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "edge/main.ts"];

/** Linux reports process CPU time in clock ticks of 1/100 s. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far, or NaN off Linux. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** A size field (`VmRSS`, `VmHWM`…) of a process's `/proc/<pid>/status` in bytes, or NaN off Linux. */
function statusBytes(pid: number | undefined, field: string): number {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size of a process in bytes, or NaN off Linux. */
export const residentBytes = (pid: number | undefined) => statusBytes(pid, "VmRSS");

/** Peak resident set size of a process in bytes (since its start or `resetPeakResident`), or NaN off Linux. */
export const peakResidentBytes = (pid: number | undefined) => statusBytes(pid, "VmHWM");

/**
 * Starts a process's peak resident set size afresh from its current size (Linux's `clear_refs` 5), so the peak of one
 * phase of a long-running process can be read; false when the kernel refused.
 */
export function resetPeakResident(pid: number | undefined): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** A redis-server of the caller's own (`args` its settings), on a free port with its data in a temporary folder. */
export async function startPrivateRedis(args: string[]): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "leadscore-redis-"));
  const port = await fixedPort();
  const server = startProcess("redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, ...args]);
  await server.waitFor(/Ready to accept connections/, 30_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await server.stop("SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}
