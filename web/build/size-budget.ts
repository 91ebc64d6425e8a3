// Prints the gzipped size of the JavaScript a first visit downloads (the entry chunk and its static imports) and
// fails the build when it is over budget, so the dashboard cannot grow past its target unnoticed.
import { gzipSync } from "node:zlib";
import type { Plugin } from "vite";

export interface FirstLoadChunk {
  fileName: string;
  code: string;
  isEntry: boolean;
  imports: string[];
}

/** The entry chunks plus everything they import statically: what the browser fetches before the app runs. */
export function firstLoadFiles(chunks: readonly FirstLoadChunk[]): FirstLoadChunk[] {
  const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
  const seen = new Set<string>();
  const pending = chunks.filter((chunk) => chunk.isEntry).map((chunk) => chunk.fileName);
  while (pending.length > 0) {
    const name = pending.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const imported of byName.get(name)?.imports ?? []) pending.push(imported);
  }
  return [...seen].flatMap((name) => byName.get(name) ?? []);
}

export function gzipSize(text: string): number {
  return gzipSync(text, { level: 9 }).length;
}

export function sizeBudget(options: { maxGzipBytes: number; log?: (line: string) => void }): Plugin {
  const log = options.log ?? ((line: string) => console.log(line));
  return {
    name: "leadscore-size-budget",
    apply: "build",
    generateBundle(_output, bundle) {
      const chunks: FirstLoadChunk[] = [];
      for (const item of Object.values(bundle)) {
        if (item.type === "chunk") {
          chunks.push({ fileName: item.fileName, code: item.code, isEntry: item.isEntry, imports: item.imports });
        }
      }
      const files = firstLoadFiles(chunks);
      const total = files.reduce((sum, file) => sum + gzipSize(file.code), 0);
      const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
      log(
        `first-load JS: ${kb(total)} gzipped (budget ${kb(options.maxGzipBytes)}) in ${files.length} file(s): ${files
          .map((file) => file.fileName)
          .join(", ")}`,
      );
      if (total > options.maxGzipBytes) {
        this.error(`first-load JS is ${kb(total)} gzipped, over the ${kb(options.maxGzipBytes)} budget`);
      }
    },
  };
}
