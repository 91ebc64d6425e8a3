// Every workspace names in its package.json `exports` what others may use, and nothing outside a workspace imports
// its files any other way: not by a relative path into its folder, not by a sub-path its exports do not name.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SKIPPED = new Set(["node_modules", "dist", ".data", ".git", "artifacts"]);

interface Workspace {
  folder: string;
  name: string;
  exports: Record<string, string> | undefined;
}

function readWorkspaces(): Workspace[] {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
  return root.workspaces.map((folder) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, folder, "package.json"), "utf8"));
    return { folder, name: pkg.name, exports: pkg.exports };
  });
}

function sourceFiles(folder = ROOT): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mts|js|mjs)$/.test(entry.name) ? [relative(ROOT, path)] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;

/** The imports of each file that reach into a workspace other than the file's own without going through its exports. */
function deepImports(files: { path: string; source: string }[], workspaces: Workspace[]): string[] {
  const owner = (path: string) => workspaces.find((w) => path === w.folder || path.startsWith(`${w.folder}${sep}`));
  const problems: string[] = [];
  for (const file of files) {
    const home = owner(file.path);
    for (const [, specifier] of file.source.matchAll(SPECIFIER)) {
      if (specifier === undefined) continue;
      if (specifier.startsWith(".")) {
        const target = owner(relative(ROOT, resolve(ROOT, dirname(file.path), specifier)));
        if (target && target !== home) {
          problems.push(`${file.path}: "${specifier}" reaches into ${target.folder}/; import "${target.name}"`);
        }
        continue;
      }
      const named = workspaces.find((w) => specifier === w.name || specifier.startsWith(`${w.name}/`));
      if (!named) continue;
      const entry = `.${specifier.slice(named.name.length)}`;
      if (named.exports?.[entry] === undefined) {
        problems.push(`${file.path}: "${specifier}" is not in the exports of ${named.folder}/package.json`);
      }
    }
  }
  return problems;
}

describe("the workspaces' front doors", () => {
  const workspaces = readWorkspaces();

  it("gives every workspace an exports map", () => {
    expect(workspaces.filter((w) => typeof w.exports !== "object").map((w) => w.folder)).toEqual([]);
  });

  it("points every export at a file of its own workspace", () => {
    const files = new Set(sourceFiles());
    const missing = workspaces.flatMap((w) =>
      Object.values(w.exports ?? {})
        .map((target) => join(w.folder, target))
        .filter((path) => !files.has(path)),
    );
    expect(missing).toEqual([]);
  });

  it("finds no import that reaches into another workspace's files", () => {
    const files = sourceFiles().map((path) => ({ path, source: readFileSync(join(ROOT, path), "utf8") }));
    expect(files.length).toBeGreaterThan(300);
    expect(deepImports(files, workspaces)).toEqual([]);
  });

  it("names a relative path into another workspace, and a sub-path its exports do not list", () => {
    // Built from parts, so that this file's own text holds none of these imports.
    const from = (names: string, specifier: string) => `import ${names} from "${specifier}";`;
    const source = [
      from("{ createApp }", "../edge/src/app.ts"),
      from("{ createLiveReader }", "@leadscore/live"),
      from("{ auditLiveState }", "@leadscore/live/audit"),
      from("type { Profile }", "@leadscore/live/src/codec.ts"),
      from("{ createWorker }", "../worker/src/worker.ts"),
    ].join("\n");
    expect(
      deepImports(
        [
          { path: join("bench", "api.ts"), source },
          { path: join("edge", "src", "index.ts"), source: from("{ createApp }", "./app.ts") },
        ],
        workspaces,
      ),
    ).toEqual([
      'bench/api.ts: "../edge/src/app.ts" reaches into edge/; import "@leadscore/edge"',
      'bench/api.ts: "@leadscore/live/src/codec.ts" is not in the exports of live/package.json',
      'bench/api.ts: "../worker/src/worker.ts" reaches into worker/; import "@leadscore/worker"',
    ]);
  });
});
