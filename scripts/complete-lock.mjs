// Adds lock entries for platform-specific optional packages (other OSes/CPUs) that npm left out of
// package-lock.json because the registry it installed from did not serve them. Without the entries `npm ci`
// refuses the lock as out of sync; with them npm skips the packages on other platforms and fetches them by
// name and version where they apply. Idempotent; plain JS because it runs before `npm ci`.
import { readFileSync, writeFileSync } from "node:fs";

const PLATFORM =
  /(android|darwin|linux|win32|freebsd|openbsd|netbsd|sunos|aix)-(arm64|x64|ia32|arm|riscv64|ppc64|s390x|loong64)(?:-(musl|glibc|gnu|msvc))?/;

const file = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;
const added = [];
for (const meta of Object.values(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const match = name.match(PLATFORM);
    if (packages[key] || !match) continue;
    const [, os, cpu, libc] = match;
    packages[key] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      cpu: [cpu],
      ...(libc === "musl" || libc === "glibc" ? { libc: [libc] } : {}),
    };
    added.push(`${name}@${version}`);
  }
}
if (added.length > 0) {
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`package-lock.json: added ${added.length} platform entries (${added.join(", ")})`);
}
