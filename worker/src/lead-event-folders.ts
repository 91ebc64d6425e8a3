// The lead event stream's temporary folders (lead-event-stream.ts) are named after the process that made them,
// `leadscore-leads-<pid>-<random>`. The stream removes its folder when it ends, is left or fails, but a process
// killed mid-sort (SIGKILL, the OOM killer) runs no `finally`, and its folder — up to the whole `events` collection
// in text — would stay. With the pid in the name what a dead process left is told from what a running one is still
// sorting: a rebuild child's folders are removed by the worker when the child exits, whatever the cause
// (rebuild-child.ts), and a worker as it starts, each of its rebuilds and `npm run rebuild` first remove those of
// every process no longer running.
import { readdirSync, rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const NAMED = /^leadscore-leads-(\d+)-/;

/** What `mkdtemp` is given for a folder of this process in `dir`. */
export function leadEventFolderPrefix(dir: string): string {
  return join(dir, `leadscore-leads-${process.pid}-`);
}

/** The folders in `dir` whose process `owner` picks, by name. */
async function foldersOf(dir: string, owner: (pid: number) => boolean): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => {
    const pid = NAMED.exec(name)?.[1];
    return pid !== undefined && owner(Number(pid));
  });
}

/** Removes the folders process `pid` made in `dir` (default: the system's); returns their names. */
export async function removeLeadEventFolders(pid: number, dir = tmpdir()): Promise<string[]> {
  const names = await foldersOf(dir, (owner) => owner === pid);
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return names;
}

/** Removes, as this process exits, the folders it made in the system's temporary folder. */
export function removeOwnLeadEventFoldersSync(dir = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (NAMED.exec(name)?.[1] === String(process.pid)) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Removes the folders in `dir` (default: the system's) of processes no longer running; returns their names. */
export async function removeStaleLeadEventFolders(dir = tmpdir()): Promise<string[]> {
  const names = await foldersOf(dir, (pid) => !isRunning(pid));
  await Promise.all(names.map((name) => rm(join(dir, name), { recursive: true, force: true })));
  return names;
}

/** Whether a process of this id runs (one of another user's too: signal 0 is then refused, not unanswered). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
