// The worker's own full rebuild runs in a child process of its own (rebuild-child-main.ts): its heap is the child's,
// with the rebuild's own settings (REBUILD_NODE_FLAGS), not the worker's (whose 64 MB semi-spaces, node-flags.ts, made the worker's rebuild
// peak 65–151 MB above `npm run rebuild`'s), and it is given back to the system when the rebuild ends.
//
// Nothing else changes: the worker holds the rebuild lock and keeps it alive as before; the child checks that lock
// (by its token, the same atomic script) before each write, so a child whose lock was lost writes nothing more, and
// the worker's lock signal stops the child's reads. The child's progress and log lines come back over IPC into the
// worker's `/metrics` and log. The worker commits nothing meanwhile, as before: the generation says "rebuilding".
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WorkerConfig } from "@leadscore/contracts";
import { LockLostError, type Logger } from "@leadscore/runtime";
import { removeLeadEventFolders, removeStaleLeadEventFolders } from "./lead-event-folders.ts";
import { REBUILD_NODE_FLAGS } from "./node-flags.ts";
import type { HeldLock, RebuildOptions, RebuildProgress, RebuildResult } from "./rebuild.ts";

/** What the worker sends the child: the rebuild to run. */
export interface ChildRebuildRequest {
  type: "rebuild";
  config: WorkerConfig;
  /** The lead partition's key prefix (its keys and its share of the leads). */
  prefix: string;
  /** The rebuild lock's holder token (the worker holds it). */
  token: string;
  halfLifeSeconds: number | null;
  writeEvents?: number;
}

/** What the child sends back. */
export type ChildRebuildMessage =
  | { type: "progress"; progress: RebuildProgress }
  | { type: "log"; level: keyof Logger; message: string; fields?: Record<string, unknown> }
  | { type: "done"; result: RebuildResult; pid: number; maxRssMb: number }
  | { type: "failed"; message: string; lockLost: boolean };

const ENTRY = fileURLToPath(new URL("./rebuild-child-main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A `RebuildOptions.runRebuild` that rebuilds `prefix`'s live state in a child process, under the lock the caller
 * holds (`options.lock`, with its token). Resolves with the rebuild's result; rejects with LockLostError when the lock
 * was lost, or with the child's failure.
 */
export function rebuildInChild(config: WorkerConfig, prefix: string) {
  return (options: RebuildOptions): Promise<RebuildResult> => {
    const { lock, log } = options;
    if (lock?.token === undefined)
      return Promise.reject(new Error("a rebuild in a child process needs its lock's token"));
    const progress = options.progress ?? { running: false, eventsRead: 0, leadsWritten: 0 };
    Object.assign(progress, { running: true, eventsRead: 0, leadsWritten: 0 });
    const held = { ...lock, token: lock.token };
    return leftBehind(log).then(() => run(options, held, log, progress));
  };

  function run(options: RebuildOptions, lock: HeldLock & { token: string }, log: Logger, progress: RebuildProgress) {
    // The rebuild's heap settings, not the worker's flags (process.execArgv), and the TypeScript loader.
    const child = fork(ENTRY, [], {
      cwd: ROOT,
      execArgv: [...REBUILD_NODE_FLAGS, "--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const request: ChildRebuildRequest = {
      type: "rebuild",
      config,
      prefix,
      token: lock.token,
      halfLifeSeconds: options.halfLife?.() ?? null,
      ...(options.writeEvents === undefined ? {} : { writeEvents: options.writeEvents }),
    };
    return new Promise<RebuildResult>((resolve, reject) => {
      let settled = false;
      const abort = () => child.connected && child.send({ type: "abort" });
      lock.signal.addEventListener("abort", abort, { once: true });
      const end = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        progress.running = false;
        lock.signal.removeEventListener("abort", abort);
        outcome();
      };
      child.on("message", (message: ChildRebuildMessage) => {
        if (message.type === "progress") Object.assign(progress, message.progress, { running: true });
        else if (message.type === "log") log[message.level](message.message, message.fields);
        else if (message.type === "done") {
          log.info("rebuild process ended", { pid: message.pid, maxRssMb: message.maxRssMb });
          end(() => resolve(message.result));
        } else end(() => reject(message.lockLost ? new LockLostError(message.message) : new Error(message.message)));
      });
      child.on("error", (error) => end(() => reject(error)));
      // Whatever ended it: a child killed mid-sort leaves its temporary folder (lead-event-folders.ts).
      child.on("exit", (code, signal) => {
        const removed = child.pid === undefined ? Promise.resolve([]) : removeLeadEventFolders(child.pid);
        void removed
          .then(
            (names) => names.length > 0 && log.warn("removed what the rebuild process left", { folders: names }),
            (error: Error) => log.warn("could not remove what the rebuild process left", { error: error.message }),
          )
          .then(() =>
            end(() => reject(new Error(`the rebuild process exited (${signal ?? `code ${code}`}) before it ended`))),
          );
      });
      child.send(request);
    });
  }
}

/** Removes the temporary folders of rebuilds whose process is gone (one killed, or a worker killed with its child). */
async function leftBehind(log: Logger): Promise<void> {
  const names = await removeStaleLeadEventFolders().catch((error: Error) => {
    log.warn("could not remove the folders of earlier rebuilds", { error: error.message });
    return [];
  });
  if (names.length > 0) log.warn("removed the folders of earlier rebuilds", { folders: names });
}
