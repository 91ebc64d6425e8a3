// Command line of `npm run load -- <scenario> [options]`.
import { isScenarioName, parseDuration, SCENARIO_NAMES, type ScenarioName } from "../src/scenarios.ts";

export interface CliOptions {
  scenario: ScenarioName;
  /** Use the scenario's CI-sized profile. */
  ci: boolean;
  rate?: number;
  durationSeconds?: number;
  /** A running deployment; without it the run starts (and removes) its own stack. */
  baseUrl?: string;
  writeKey: string;
  /** METRICS_TOKEN of the deployment given by baseUrl, when it sets one: the queue depth is read off /metrics. */
  metricsToken?: string;
  /** MongoDB of the deployment given by baseUrl (database in the path); needed for lag and audit there. */
  mongoUrl?: string;
  /** Redis of that deployment and its REDIS_PREFIX: the live state, needed with mongoUrl for lag and audit there. */
  redisUrl?: string;
  redisPrefix: string;
  /** Workers of a self-started stack. */
  workers: number;
  scoreCap: number;
  /** Distinct leads the events spread over, in place of the workload's own number. */
  leads?: number;
  maxInFlight?: number;
  audit: boolean;
  drainTimeoutSeconds: number;
  outDir: string;
  strict: boolean;
  /** After the audit, rebuild the self-started stack's live state and count its history pages again. */
  rebuildAfter: boolean;
  /** Print a progress line every second. */
  progress: boolean;
  runId?: string;
}

export const USAGE = `usage: npm run load -- <scenario> [options]

scenarios: ${SCENARIO_NAMES.join(", ")}

  --ci                 small CI-sized run (200 requests/s for 10 s unless the scenario says otherwise)
  --rate N             requests per second (for a ramp: its peak; the ramp is scaled)
  --duration D         run length: 90, 90s, 5m (a ramp is stretched to fit)
  --base-url URL       a running deployment; without it a private stack is started and removed after
  --write-key KEY      ingestion key (default: $WRITE_KEY or dev-write-key)
  --metrics-token T    the deployment's METRICS_TOKEN, for its /metrics (default: $METRICS_TOKEN; none: open)
  --mongo-url URL      the deployment's MongoDB, database in the path: with --redis-url, enables lag and audit
                       with --base-url
  --redis-url URL      the deployment's Redis (the live state)
  --redis-prefix P     the deployment's REDIS_PREFIX (default: $REDIS_PREFIX or leadscore)
  --workers N          workers in the self-started stack (default 1; 0 measures ingestion alone)
  --score-cap N        SCORE_CAP of the stack (default 1000)
  --leads N            distinct leads the events spread over (default: the workload's, 10,000 for mix)
  --max-in-flight N    concurrent requests before iterations are dropped (default per scenario)
  --drain-timeout D    how long to wait for the queue to drain before the audit (default 120s)
  --no-audit           skip the audit
  --out DIR            report directory (default artifacts/load)
  --run-id ID          fix the run id (and so the ids and random draws)
  --rebuild-after      after the audit, rebuild the live state (own stack only) and print its history pages
  --strict             exit 1 when a latency/error/drop target is missed, not only when the audit fails
  --quiet              no per-second progress
`;

export class UsageError extends Error {
  override name = "UsageError";
}

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${name} needs a positive number (got ${raw === undefined ? "nothing" : `"${raw}"`})`);
  }
  return value;
}

function workerCount(raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || !Number.isInteger(value) || value < 0) {
    throw new UsageError(`--workers needs a whole number, 0 for ingestion alone (got ${raw ?? "nothing"})`);
  }
  return value;
}

function duration(name: string, raw: string | undefined): number {
  if (raw === undefined) throw new UsageError(`${name} needs a duration`);
  try {
    const seconds = parseDuration(raw);
    if (seconds <= 0) throw new Error("must be positive");
    return seconds;
  } catch (error) {
    throw new UsageError(`${name}: ${(error as Error).message}`);
  }
}

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): CliOptions {
  const args = [...argv];
  const positional: string[] = [];
  const options: Omit<CliOptions, "scenario"> = {
    ci: false,
    writeKey: env.WRITE_KEY || "dev-write-key",
    ...(env.METRICS_TOKEN ? { metricsToken: env.METRICS_TOKEN } : {}),
    workers: 1,
    redisPrefix: env.REDIS_PREFIX || "leadscore",
    scoreCap: 1000,
    audit: true,
    drainTimeoutSeconds: 120,
    outDir: "artifacts/load",
    strict: false,
    rebuildAfter: false,
    progress: true,
  };
  while (args.length > 0) {
    const arg = args.shift() as string;
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    const value = () => inline ?? args.shift();
    switch (flag) {
      case "--ci":
        options.ci = true;
        break;
      case "--rate":
        options.rate = positive(flag, value());
        break;
      case "--duration":
        options.durationSeconds = duration(flag, value());
        break;
      case "--base-url":
        options.baseUrl = value();
        if (!options.baseUrl || !/^https?:\/\//.test(options.baseUrl))
          throw new UsageError("--base-url needs an http(s) URL");
        break;
      case "--write-key":
        options.writeKey = value() ?? "";
        if (!options.writeKey) throw new UsageError("--write-key needs a key");
        break;
      case "--metrics-token":
        options.metricsToken = value();
        if (!options.metricsToken) throw new UsageError("--metrics-token needs a token");
        break;
      case "--mongo-url":
        options.mongoUrl = value();
        if (!options.mongoUrl || !/^mongodb(\+srv)?:\/\//.test(options.mongoUrl)) {
          throw new UsageError("--mongo-url needs a mongodb:// URL");
        }
        break;
      case "--redis-url":
        options.redisUrl = value();
        if (!options.redisUrl || !/^rediss?:\/\//.test(options.redisUrl)) {
          throw new UsageError("--redis-url needs a redis:// URL");
        }
        break;
      case "--redis-prefix":
        options.redisPrefix = value() ?? "";
        if (!options.redisPrefix) throw new UsageError("--redis-prefix needs a prefix");
        break;
      case "--workers":
        options.workers = workerCount(value());
        break;
      case "--score-cap":
        options.scoreCap = Math.round(positive(flag, value()));
        break;
      case "--leads":
        options.leads = Math.round(positive(flag, value()));
        break;
      case "--max-in-flight":
        options.maxInFlight = Math.round(positive(flag, value()));
        break;
      case "--drain-timeout":
        options.drainTimeoutSeconds = duration(flag, value());
        break;
      case "--no-audit":
        options.audit = false;
        break;
      case "--out":
        options.outDir = value() ?? "";
        if (!options.outDir) throw new UsageError("--out needs a directory");
        break;
      case "--run-id":
        options.runId = value();
        if (!options.runId || !/^[A-Za-z0-9_-]{1,40}$/.test(options.runId)) {
          throw new UsageError("--run-id needs 1-40 characters of A-Z a-z 0-9 _ -");
        }
        break;
      case "--strict":
        options.strict = true;
        break;
      case "--rebuild-after":
        options.rebuildAfter = true;
        break;
      case "--quiet":
        options.progress = false;
        break;
      default:
        if (flag.startsWith("-")) throw new UsageError(`unknown option ${flag}`);
        positional.push(flag);
    }
  }
  const [scenario, ...extra] = positional;
  if (scenario === undefined) throw new UsageError("which scenario?");
  if (!isScenarioName(scenario)) throw new UsageError(`unknown scenario "${scenario}"`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  return { scenario, ...options };
}
