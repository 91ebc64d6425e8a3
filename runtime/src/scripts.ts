// Every Redis script of the system is a `.lua` file in a `lua/` folder beside the code that calls it, loaded here and
// registered on each connection the same way: ioredis `defineCommand`, so a connection sends a script's source once
// (EVAL) and its sha after that (EVALSHA), and sends the source again only when Redis answers NOSCRIPT (a restart, a
// SCRIPT FLUSH).
//
// - Names, as bullmq spells them: `name-<numkeys>.lua` takes that many keys; `name.lua`, without a number, takes as
//   many as each call passes (the keys of a batch), and the call gives the number first.
// - Each file starts with a header comment: what it does, KEYS, ARGV, the reply and what it guarantees.
// - Shared pieces live in `lua/includes/` and are pulled in with a line `--- @include "name"`: `name` is a path
//   without `.lua`, relative to the including file, or `<root>/name` for a folder the caller maps (another package's
//   includes, which it exports as a URL). Each include is inserted once per script, where it is first named; an
//   include may include others.
//
// Files are read with `node:fs` when a module defines its scripts, which works on Node and on Deno (the edge runs
// with --allow-read) alike; a missing file or include stops the process at start rather than at the first call.
import { readFileSync } from "node:fs";
import type { Redis, RedisKey, RedisValue } from "ioredis";

/** What running a script needs of a connection (an ioredis client). */
export type ScriptClient = Pick<Redis, "defineCommand">;

/** A script ready to run on any connection; registered on a connection the first time it runs there. */
export interface RedisScript<Reply> {
  /** The command name it is registered under (from its file name). */
  readonly name: string;
  /** Its source, includes inserted. */
  readonly lua: string;
  /** Keys it takes, or null when each call says (a file named without `-<numkeys>`). */
  readonly numberOfKeys: number | null;
  run(redis: ScriptClient, keys: readonly RedisKey[], args?: readonly RedisValue[]): Promise<Reply>;
}

export interface ScriptOptions {
  /** Folders named by `--- @include "<root>/name"`. */
  roots?: Record<string, URL>;
}

const INCLUDE = /^---[ \t]*@include[ \t]+"([^"]+)"[ \t]*$/gm;
const FILE_NAME = /^([a-z][a-z0-9-]*?)(?:-(\d+))?\.lua$/;

type ScriptCommand = (...args: RedisValue[]) => Promise<unknown>;

/** Command names taken, with their source: two files of one name would otherwise replace each other's command. */
const registered = new Map<string, string>();

function includeUrl(spec: string, from: URL, roots: Record<string, URL>): URL {
  const rooted = /^<([^>]+)>\/(.+)$/.exec(spec);
  if (!rooted) return new URL(`${spec}.lua`, from);
  const [, root, rest] = rooted as unknown as [string, string, string];
  const base = roots[root];
  if (!base) throw new Error(`${from.pathname}: @include "${spec}" names the root <${root}>, which is not mapped`);
  return new URL(`${rest}.lua`, base.href.endsWith("/") ? base : new URL(`${base.href}/`));
}

/** A file's source with its includes inserted, each once (`seen` holds the ones already in). */
function resolveIncludes(file: URL, roots: Record<string, URL>, seen: Set<string>): string {
  const source = readFileSync(file, "utf8");
  return source.replace(INCLUDE, (_line, spec: string) => {
    const url = includeUrl(spec, file, roots);
    if (seen.has(url.href)) return "";
    seen.add(url.href);
    return resolveIncludes(url, roots, seen).trimEnd();
  });
}

/** Reads a script file (its includes resolved); `name-<numkeys>.lua` or `name.lua`, see above. */
export function loadScript(
  file: URL,
  options: ScriptOptions = {},
): { name: string; lua: string; numberOfKeys: number | null } {
  const base = file.pathname.slice(file.pathname.lastIndexOf("/") + 1);
  const parts = FILE_NAME.exec(base);
  if (!parts) throw new Error(`${file.pathname}: a script file is named name-<numkeys>.lua or name.lua (kebab-case)`);
  const [, stem, keys] = parts as unknown as [string, string, string | undefined];
  const name = `leadscore${stem.replace(/(^|-)([a-z0-9])/g, (_m, _dash, letter: string) => letter.toUpperCase())}`;
  const lua = resolveIncludes(file, options.roots ?? {}, new Set([file.href]));
  return { name, lua, numberOfKeys: keys === undefined ? null : Number(keys) };
}

/** Loads a script file once (when the calling module loads) and returns a handle that runs it on any connection. */
export function redisScript<Reply = unknown>(file: URL, options: ScriptOptions = {}): RedisScript<Reply> {
  const { name, lua, numberOfKeys } = loadScript(file, options);
  const taken = registered.get(name);
  if (taken !== undefined && taken !== lua) throw new Error(`${file.pathname}: another script is named ${name}`);
  registered.set(name, lua);

  return {
    name,
    lua,
    numberOfKeys,
    run(redis, keys, args = []) {
      if (numberOfKeys !== null && keys.length !== numberOfKeys) {
        return Promise.reject(new Error(`${name} takes ${numberOfKeys} keys, was given ${keys.length}`));
      }
      const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
      if (typeof commands[name] !== "function") {
        redis.defineCommand(name, numberOfKeys === null ? { lua } : { lua, numberOfKeys });
      }
      const command = commands[name] as ScriptCommand;
      const values = numberOfKeys === null ? [keys.length, ...keys, ...args] : [...keys, ...args];
      return command.apply(redis, values) as Promise<Reply>;
    },
  };
}
