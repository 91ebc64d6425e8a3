// `npm run load -- <scenario> [options]`: runs a scenario, writes artifacts/load/<timestamp>-<scenario>.{md,json},
// prints one summary line on stdout (progress goes to stderr). Exit 1 when the audit fails (or, with --strict,
// when a target is missed), 2 on a usage error.
import { resolve } from "node:path";
import { parseArgs, USAGE, UsageError } from "./args.ts";
import { summaryLine, writeReport } from "./report.ts";
import { runLoad } from "./run-load.ts";

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let stackOutput: string | undefined;
  const report = await runLoad({
    ...options,
    log,
    onStackOutput: (output) => {
      stackOutput = output;
    },
  });
  const paths = await writeReport(report, resolve(options.outDir), stackOutput);
  log(`report: ${paths.markdown}`);
  log(`        ${paths.json}`);
  if (paths.stackLog) log(`        ${paths.stackLog} (what the stack's processes printed)`);
  for (const check of report.audit.checks) log(`audit ${check.pass ? "ok  " : "FAIL"} ${check.name}: ${check.detail}`);
  if (report.audit.note) log(`audit: ${report.audit.note}`);
  for (const threshold of report.thresholds.filter((t) => !t.pass)) {
    log(`target missed: ${threshold.name}: ${threshold.actual} (target ${threshold.target})`);
  }
  process.stdout.write(`${summaryLine(report)}\n`);
  if (report.audit.status === "FAIL") return 1;
  if (options.strict && report.thresholds.some((t) => !t.pass)) return 1;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`load: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
