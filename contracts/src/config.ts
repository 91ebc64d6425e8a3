import { z } from "zod";
import { DEFAULT_EVENT_MAX_AGE_DAYS } from "./event.ts";
import { DEFAULT_PLACEHOLDER_IDS } from "./identity.ts";
import { DEFAULT_SCORE_CAP } from "./scoring.ts";
import type { StageThresholds } from "./stage.ts";

/** Thrown when the environment does not describe a valid configuration; the message names every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const DEV_WRITE_KEY = "dev-write-key";
const DEV_ADMIN_TOKEN = "dev-admin-token";
const DEV_READ_TOKEN = "dev-read-token";
/** Shortest admin, read or metrics token accepted: anything shorter is guessable. */
const MIN_TOKEN_LENGTH = 8;
const TOO_SHORT = `must be at least ${MIN_TOKEN_LENGTH} characters`;

/** 0 lets the system pick a free port; the process logs the one it got. */
const portNumber = z.coerce
  .number({ error: "must be a port number" })
  .int({ error: "must be an integer" })
  .min(0, { error: "must be 0-65535" })
  .max(65535, { error: "must be 0-65535" });

const port = (fallback: number) => portNumber.default(fallback);

/** The port of a listener that is off unless asked for: unset or empty turns it off. */
const optionalPort = z.preprocess((value) => (value === "" ? undefined : value), portNumber.optional());

/** `DEDUPE_BUCKETS` when unset: about 6.5 million events per window in compact buckets (~100 per bucket). */
export const DEFAULT_DEDUPE_BUCKETS = 65_536;

const positiveInt = (fallback: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .positive({ error: "must be positive" })
    .default(fallback);

const url = (protocols: string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { error: `must be a ${protocols.join(" or ")}// URL` },
    );

const list = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

const partitionList = list.transform((items, ctx): number[] => {
  const numbers = items.map(Number);
  if (numbers.some((value) => !Number.isInteger(value) || value < 0)) {
    ctx.addIssue({ code: "custom", message: "must be partition numbers (0, 1, …), comma-separated" });
  }
  return numbers;
});

const flag = z
  .enum(["true", "false", "1", "0"], { error: "must be true or false" })
  .default("false")
  .transform((value) => value === "true" || value === "1");

const delays = z
  .string()
  .default("5000,30000,120000,600000,3600000,21600000")
  .transform((value, ctx): number[] => {
    const parts = value.split(",").map((part) => Number(part.trim()));
    if (parts.length === 0 || !parts.every((part) => Number.isInteger(part) && part > 0)) {
      ctx.addIssue({ code: "custom", message: "must be positive integers (ms), comma-separated" });
      return z.NEVER;
    }
    return parts;
  });

const thresholds = z
  .string()
  .default("100,300,600")
  .transform((value, ctx): StageThresholds => {
    const parts = value.split(",").map((part) => Number(part.trim()));
    const [warm, hot, qualified] = parts;
    if (
      parts.length !== 3 ||
      warm === undefined ||
      hot === undefined ||
      qualified === undefined ||
      !parts.every((part) => Number.isInteger(part) && part >= 0) ||
      !(warm < hot && hot < qualified)
    ) {
      ctx.addIssue({ code: "custom", message: "must be three increasing non-negative integers, e.g. 100,300,600" });
      return z.NEVER;
    }
    return [warm, hot, qualified];
  });

/** One node of a Redis Cluster, as `REDIS_CLUSTER_NODES` names it. */
export interface RedisClusterNode {
  host: string;
  port: number;
}

/** `host:port,…`, the Redis Cluster nodes a client starts from (it learns the rest); empty: one Redis at REDIS_URL. */
const clusterNodes = list.transform((items, ctx): RedisClusterNode[] => {
  const nodes: RedisClusterNode[] = [];
  for (const item of items) {
    const match = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/.exec(item);
    const port = Number(match?.[2]);
    if (!match?.[1] || !(port > 0 && port <= 65535)) {
      ctx.addIssue({ code: "custom", message: "must be host:port pairs, comma-separated" });
      return z.NEVER;
    }
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ""), port });
  }
  return nodes;
});

/**
 * On a Redis Cluster, every key of the deployment must hash to one slot (live/src/keys.ts), so the prefix must carry
 * a hash tag: Redis hashes only what is inside the first `{…}`.
 */
function checkClusterPrefix(
  config: { REDIS_PREFIX: string; REDIS_CLUSTER_NODES: RedisClusterNode[] },
  ctx: z.RefinementCtx,
): void {
  if (config.REDIS_CLUSTER_NODES.length > 0 && !/\{[^}]+\}/.test(config.REDIS_PREFIX)) {
    ctx.addIssue({
      code: "custom",
      path: ["REDIS_PREFIX"],
      message: "must carry a hash tag (e.g. {leadscore}) when REDIS_CLUSTER_NODES is set",
    });
  }
}

/** The secrets that grant reads, shared by the edge and realtime: read tokens, and the admin token (which also reads). */
const readAccess = {
  ADMIN_TOKEN: z.string().optional(),
  /** Tokens that read leads, rules and live updates (`Authorization: Bearer`, or the socket's `auth.token`). */
  READ_TOKENS: list,
};

type ReadAccessInput = { NODE_ENV: string; ADMIN_TOKEN?: string | undefined; READ_TOKENS: string[] };

/**
 * Checks the read secrets and fills their development defaults. With NODE_ENV=production every secret must be set:
 * a default is public, printed by `npm start` and written in the README.
 */
function checkReadAccess<C extends ReadAccessInput>(
  config: C,
  ctx: z.RefinementCtx,
): C & { ADMIN_TOKEN: string; READ_TOKENS: string[] } {
  const production = config.NODE_ENV === "production";
  const required = "must be set when NODE_ENV=production";
  if (production && !config.ADMIN_TOKEN) ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: required });
  if (production && config.READ_TOKENS.length === 0) {
    ctx.addIssue({ code: "custom", path: ["READ_TOKENS"], message: required });
  }
  if (config.ADMIN_TOKEN !== undefined && config.ADMIN_TOKEN.length < MIN_TOKEN_LENGTH) {
    ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: TOO_SHORT });
  }
  if (config.READ_TOKENS.some((token) => token.length < MIN_TOKEN_LENGTH)) {
    ctx.addIssue({ code: "custom", path: ["READ_TOKENS"], message: `each token ${TOO_SHORT}` });
  }
  return {
    ...config,
    ADMIN_TOKEN: config.ADMIN_TOKEN ?? DEV_ADMIN_TOKEN,
    READ_TOKENS: config.READ_TOKENS.length > 0 ? config.READ_TOKENS : [DEV_READ_TOKEN],
  };
}

/**
 * WEBHOOK_ALLOW_PRIVATE as the edge (a subscription's URL) and the dispatcher (every address a delivery connects to)
 * both apply it: loopback, link-local and private targets are allowed when it is set, and always outside production,
 * where a local receiver is the usual thing to test against. Which addresses those are is `isNonPublicAddress`.
 */
function allowPrivateWebhooks(config: { NODE_ENV: string; WEBHOOK_ALLOW_PRIVATE: boolean }): boolean {
  return config.WEBHOOK_ALLOW_PRIVATE || config.NODE_ENV !== "production";
}

/** Every token that reads: the read tokens and the admin token. */
export function readSecrets(config: { READ_TOKENS: readonly string[]; ADMIN_TOKEN: string }): string[] {
  return [...config.READ_TOKENS, config.ADMIN_TOKEN];
}

const common = {
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  REDIS_URL: url(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  /**
   * Redis Cluster nodes (`host:port,…`) to connect to instead of REDIS_URL's host, which then gives only the
   * credentials and TLS (`rediss:`).
   */
  REDIS_CLUSTER_NODES: clusterNodes,
  MONGO_URL: url(["mongodb:", "mongodb+srv:"], "mongodb://127.0.0.1:27017/leadscore"),
  /** Prefix of every Redis key and of the Bull queue, so several deployments can share one Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:{}_-]{1,64}$/, { error: "must be 1-64 characters of A-Z a-z 0-9 : { } _ -" })
    .default("leadscore"),
  /**
   * Partitions the leads are spread over (docs/partitions.md): each its own hash tag, so on a Redis Cluster they land
   * on different masters. 1 keeps every key under REDIS_PREFIX. Every process of a deployment must agree on it.
   */
  LEAD_PARTITIONS: positiveInt(1).refine((value) => value <= 1024, { error: "must be at most 1024" }),
  SCORE_CAP: positiveInt(DEFAULT_SCORE_CAP),
  STAGE_THRESHOLDS: thresholds,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
};

export const EdgeConfigSchema = z
  .object({
    ...common,
    PORT: port(8080),
    WRITE_KEYS: list,
    ...readAccess,
    /** Token `GET /metrics` requires (`Authorization: Bearer`); unset: metrics are open, for a scraper on a private network. */
    METRICS_TOKEN: z.string().optional(),
    DEDUPE_TTL_SECONDS: positiveInt(86_400),
    /**
     * Hashes the de-duplication window's marks are spread over: about the events accepted per window / 100 (each
     * bucket then stays a compact listpack, ~20 bytes per event). Changing it forgets the window's marks (docs/ingestion.md).
     */
    DEDUPE_BUCKETS: positiveInt(DEFAULT_DEDUPE_BUCKETS),
    /** Oldest event timestamp accepted, in days before it is received; older is refused with 400. */
    EVENT_MAX_AGE_DAYS: positiveInt(DEFAULT_EVENT_MAX_AGE_DAYS),
    /**
     * Ids no identify may merge (compared trimmed, in lower case), comma-separated; unset: `null`, `undefined`,
     * `anonymous`, `0`, `-1`, `[object Object]`, `none`, `nan`, `guest` (identity.ts).
     */
    PLACEHOLDER_IDS: list,
    /** Requests per second allowed per write key (and per client address) on the ingestion routes. */
    RATE_LIMIT_PER_SECOND: positiveInt(100_000),
    /** Browser origins allowed by CORS on the read/admin API; ingestion routes accept any origin. */
    CORS_ORIGINS: list,
    /** Events waiting in the queue past which ingestion answers 503 (the worker is down or far behind). */
    QUEUE_MAX_DEPTH: positiveInt(5_000_000),
    /** Time an ingestion request's body may take to arrive before the request is refused with 408. */
    BODY_READ_TIMEOUT_MS: positiveInt(10_000),
    /**
     * Expensive reads (searches by `company`/`q`, exports, history older than Redis keeps, event metadata) in progress
     * at once per edge process; the next waits up to 1 s for a slot, then is refused with 503 and `Retry-After`.
     */
    EXPENSIVE_READ_CONCURRENCY: positiveInt(2),
    /** Time one expensive read may take (MongoDB's `maxTimeMS` for its queries) before it is stopped with 503. */
    EXPENSIVE_READ_TIMEOUT_MS: positiveInt(30_000),
    /** Folder of the built dashboard served at `/`. */
    WEB_DIST: z.string().default("web/dist"),
    /** Lets webhook URLs name loopback, link-local and private addresses in production (allowPrivateWebhooks). */
    WEBHOOK_ALLOW_PRIVATE: flag,
    /**
     * Accepts arrays directly inside arrays in event metadata. FerretDB 1.x cannot store them (the worker would keep
     * such an event as a dead letter, unscored); only for a deployment on MongoDB.
     */
    METADATA_ALLOW_NESTED_ARRAYS: flag,
    /**
     * Lets the edge run with NODE_ENV=production on a Redis without the append-only file, where an accepted (202)
     * event can be lost by a Redis crash (see README, Durability).
     */
    REDIS_VOLATILE_OK: flag,
  })
  .superRefine(checkClusterPrefix)
  .transform((config, ctx) => {
    if (config.NODE_ENV === "production" && config.WRITE_KEYS.length === 0) {
      ctx.addIssue({ code: "custom", path: ["WRITE_KEYS"], message: "must be set when NODE_ENV=production" });
    }
    if (config.METRICS_TOKEN !== undefined && config.METRICS_TOKEN.length < MIN_TOKEN_LENGTH) {
      ctx.addIssue({ code: "custom", path: ["METRICS_TOKEN"], message: TOO_SHORT });
    }
    // Write keys are public (they sit in every tracked page), so a secret equal to one would let anyone read.
    const writeKeys = new Set(config.WRITE_KEYS.length > 0 ? config.WRITE_KEYS : [DEV_WRITE_KEY]);
    for (const name of ["ADMIN_TOKEN", "READ_TOKENS", "METRICS_TOKEN"] as const) {
      const value = config[name];
      const secrets = Array.isArray(value) ? value : value === undefined ? [] : [value];
      if (secrets.some((secret) => writeKeys.has(secret))) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "must not be one of WRITE_KEYS (write keys are public)",
        });
      }
    }
    return {
      ...checkReadAccess(config, ctx),
      WRITE_KEYS: config.WRITE_KEYS.length > 0 ? config.WRITE_KEYS : [DEV_WRITE_KEY],
      PLACEHOLDER_IDS:
        config.PLACEHOLDER_IDS.length > 0
          ? config.PLACEHOLDER_IDS.map((id) => id.toLowerCase())
          : [...DEFAULT_PLACEHOLDER_IDS],
      WEBHOOK_ALLOW_PRIVATE: allowPrivateWebhooks(config),
    };
  });
export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

export const WorkerConfigSchema = z
  .object({
    ...common,
    WORKER_CONCURRENCY: positiveInt(32),
    /** The partitions this worker consumes (`0,2,4`); unset: every one of LEAD_PARTITIONS. */
    LEAD_PARTITIONS_CONSUMED: partitionList,
    /** Prometheus text at `GET /metrics` on this port; unset: off. */
    METRICS_PORT: optionalPort,
    /** How long a job stays claimed without its worker renewing the claim; a crashed worker's jobs re-run after it. */
    JOB_LOCK_MS: positiveInt(30_000),
    /** A lead no commit has touched for this many days sheds its history from Redis (live/src/idle.ts); 0: never. */
    LIVE_IDLE_DAYS: z.coerce.number({ error: "must be a number" }).min(0, { error: "must be 0 or more" }).default(30),
  })
  .superRefine(checkClusterPrefix);
export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

export const DispatcherConfigSchema = z
  .object({
    ...common,
    /** Prometheus text at `GET /metrics` on this port; unset: off. */
    DISPATCHER_METRICS_PORT: optionalPort,
    /** Time a receiver has to answer one delivery. */
    WEBHOOK_TIMEOUT_MS: positiveInt(10_000),
    /** Delays before each retry of a failed delivery (ms); the last repeats. */
    WEBHOOK_RETRY_DELAYS_MS: delays,
    /** A delivery still failing this long after its first attempt is given up (marked failed). */
    WEBHOOK_RETRY_FOR_MS: positiveInt(86_400_000),
    /** Deliveries in flight per dispatcher process, and per subscription (so one slow receiver cannot take them all). */
    WEBHOOK_CONCURRENCY: positiveInt(64),
    WEBHOOK_CONCURRENCY_PER_SUBSCRIPTION: positiveInt(16),
    /** Settled deliveries (delivered, failed or dropped) kept in each subscription's log; pending ones are always kept. */
    WEBHOOK_LOG_SIZE: positiveInt(1_000),
    /** A subscription whose receiver accepts nothing for this long after its first failure is disabled (ms; 3 days). */
    WEBHOOK_DISABLE_AFTER_MS: positiveInt(259_200_000),
    /** Deliveries pending per subscription past which new messages for it are dropped, each logged as dropped. */
    WEBHOOK_MAX_PENDING: positiveInt(100_000),
    /** Lets deliveries connect to loopback, link-local and private addresses in production (allowPrivateWebhooks). */
    WEBHOOK_ALLOW_PRIVATE: flag,
  })
  .superRefine(checkClusterPrefix)
  .transform((config) => ({ ...config, WEBHOOK_ALLOW_PRIVATE: allowPrivateWebhooks(config) }));
export type DispatcherConfig = z.infer<typeof DispatcherConfigSchema>;

export const RealtimeConfigSchema = z
  .object({
    ...common,
    ...readAccess,
    REALTIME_PORT: port(8081),
    /** Browser origins allowed to open a socket; empty: the dashboard's own http://localhost:PORT and 127.0.0.1:PORT. */
    CORS_ORIGINS: list,
    /** The edge's port, which serves the dashboard; only used for the default CORS origins. */
    PORT: port(8080),
    MAX_CONNECTIONS_PER_ADDRESS: positiveInt(2000),
    /** Leads one socket may subscribe to at once: each costs a room and a read; a dashboard shows a page of rows. */
    MAX_SUBSCRIPTIONS_PER_SOCKET: positiveInt(1000),
  })
  .superRefine(checkClusterPrefix)
  .transform((config, ctx) => checkReadAccess(config, ctx));
export type RealtimeConfig = z.infer<typeof RealtimeConfigSchema>;

/**
 * Variables whose values are secrets: keys and tokens, and the store URLs, which may carry a password. An error about
 * one names the variable and the rule it breaks, never the value (SECURITY.md).
 */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  "WRITE_KEYS",
  "ADMIN_TOKEN",
  "READ_TOKENS",
  "METRICS_TOKEN",
  "REDIS_URL",
  "MONGO_URL",
]);

/**
 * Parses the environment once, at a process's entry point. Throws a ConfigError naming every bad variable, with the
 * value it got unless the variable is secret.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== "") cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "(environment)");
    const value = cleaned[name];
    const got = value === undefined || SECRET_VARIABLES.has(name) ? "" : ` (got ${JSON.stringify(value)})`;
    return `  ${name}: ${issue.message}${got}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

/**
 * `parseConfig` at an entry point: a bad configuration is printed, prefixed with the process's name, and the process
 * exits with status 2. `exit` is the runtime's (`process.exit`, `Deno.exit`), so this stays free of either.
 */
export function parseConfigOrExit<S extends z.ZodType>(
  name: string,
  schema: S,
  env: Record<string, string | undefined>,
  exit: (code: number) => never,
): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${name}: ${error.message}`);
    return exit(2);
  }
}

/** The database name in a MongoDB URL (its path), or `leadscore`. */
export function mongoDatabaseName(mongoUrl: string): string {
  const name = new URL(mongoUrl).pathname.replace(/^\//, "");
  return name === "" ? "leadscore" : decodeURIComponent(name);
}
