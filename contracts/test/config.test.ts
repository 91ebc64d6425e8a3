import { describe, expect, it } from "vitest";
import {
  ConfigError,
  DispatcherConfigSchema,
  EdgeConfigSchema,
  parseConfig,
  RealtimeConfigSchema,
  SECRET_VARIABLES,
  WorkerConfigSchema,
} from "../src/index.ts";

describe("configuration", () => {
  it("fills the documented defaults", () => {
    const config = parseConfig(EdgeConfigSchema, {});
    expect(config.PORT).toBe(8080);
    expect(config.SCORE_CAP).toBe(1000);
    expect(config.DEDUPE_TTL_SECONDS).toBe(86_400);
    expect(config.STAGE_THRESHOLDS).toEqual([100, 300, 600]);
    expect(config.WRITE_KEYS).toEqual(["dev-write-key"]);
    expect(config.ADMIN_TOKEN).toBe("dev-admin-token");
    expect(parseConfig(RealtimeConfigSchema, {}).REALTIME_PORT).toBe(8081);
  });

  it("serves the worker's and the dispatcher's metrics only when their port is set, 0 taking any free port", () => {
    expect(parseConfig(WorkerConfigSchema, {}).METRICS_PORT).toBeUndefined();
    expect(parseConfig(WorkerConfigSchema, { METRICS_PORT: "" }).METRICS_PORT).toBeUndefined();
    expect(parseConfig(WorkerConfigSchema, { METRICS_PORT: "0" }).METRICS_PORT).toBe(0);
    expect(parseConfig(DispatcherConfigSchema, {}).DISPATCHER_METRICS_PORT).toBeUndefined();
    expect(parseConfig(DispatcherConfigSchema, { DISPATCHER_METRICS_PORT: "9102" }).DISPATCHER_METRICS_PORT).toBe(9102);
    expect(() => parseConfig(WorkerConfigSchema, { METRICS_PORT: "70000" })).toThrow(/METRICS_PORT: must be 0-65535/);
  });

  it("splits comma-separated write keys", () => {
    expect(parseConfig(EdgeConfigSchema, { WRITE_KEYS: "a-key, b-key," }).WRITE_KEYS).toEqual(["a-key", "b-key"]);
  });

  it("names every bad variable and what it got", () => {
    const attempt = () =>
      parseConfig(WorkerConfigSchema, { SCORE_CAP: "-5", REDIS_URL: "http://x", LOG_LEVEL: "loud" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/SCORE_CAP: must be positive \(got "-5"\)/);
    expect(attempt).toThrow(/REDIS_URL/);
    expect(attempt).toThrow(/LOG_LEVEL/);
  });

  it("names a bad secret variable and its rule, never its value", () => {
    const attempt = () =>
      parseConfig(EdgeConfigSchema, { ADMIN_TOKEN: "Sh0rtPw", READ_TOKENS: "long-enough-token,Sh0rtRd" });
    expect(attempt).toThrow(/ADMIN_TOKEN: must be at least 8 characters\n/);
    expect(attempt).toThrow(/READ_TOKENS: each token must be at least 8 characters$/);
    expect(attempt).not.toThrow(/Sh0rt|long-enough-token/);
    const url = () => parseConfig(WorkerConfigSchema, { REDIS_URL: "http://u:Passw0rd@h:1", MONGO_URL: "x://u:Pw@h" });
    expect(url).toThrow(/REDIS_URL: must be a redis: or rediss:\/\/ URL\n/);
    expect(url).not.toThrow(/Passw0rd|Pw@/);
    for (const name of ["WRITE_KEYS", "ADMIN_TOKEN", "READ_TOKENS", "METRICS_TOKEN", "REDIS_URL", "MONGO_URL"]) {
      expect(SECRET_VARIABLES.has(name), name).toBe(true);
    }
  });

  describe("when REDIS_CLUSTER_NODES is set", () => {
    it("reads host:port pairs, and an empty value as one Redis at REDIS_URL", () => {
      expect(parseConfig(WorkerConfigSchema, {}).REDIS_CLUSTER_NODES).toEqual([]);
      const env = { REDIS_CLUSTER_NODES: "10.0.0.1:7000, redis-b:7001,[::1]:7002", REDIS_PREFIX: "{leadscore}" };
      expect(parseConfig(EdgeConfigSchema, env).REDIS_CLUSTER_NODES).toEqual([
        { host: "10.0.0.1", port: 7000 },
        { host: "redis-b", port: 7001 },
        { host: "::1", port: 7002 },
      ]);
    });

    it("refuses a node without a port", () => {
      const attempt = () => parseConfig(WorkerConfigSchema, { REDIS_CLUSTER_NODES: "redis-a", REDIS_PREFIX: "{x}" });
      expect(attempt).toThrow(/REDIS_CLUSTER_NODES: must be host:port pairs, comma-separated \(got "redis-a"\)/);
    });

    it("requires a hash-tagged prefix of every process, so the deployment's keys share a slot", () => {
      const env = { REDIS_CLUSTER_NODES: "127.0.0.1:7000" };
      for (const schema of [EdgeConfigSchema, WorkerConfigSchema, DispatcherConfigSchema, RealtimeConfigSchema]) {
        expect(() => parseConfig(schema, env)).toThrow(/REDIS_PREFIX: must carry a hash tag/);
        expect(parseConfig(schema, { ...env, REDIS_PREFIX: "{leadscore}" }).REDIS_PREFIX).toBe("{leadscore}");
      }
    });
  });

  it("rejects stage thresholds that do not increase", () => {
    expect(() => parseConfig(EdgeConfigSchema, { STAGE_THRESHOLDS: "300,100,600" })).toThrow(/STAGE_THRESHOLDS/);
    expect(parseConfig(EdgeConfigSchema, { STAGE_THRESHOLDS: "10,20,30" }).STAGE_THRESHOLDS).toEqual([10, 20, 30]);
  });

  it("requires real secrets in production", () => {
    const attempt = () => parseConfig(EdgeConfigSchema, { NODE_ENV: "production" });
    expect(attempt).toThrow(/WRITE_KEYS: must be set when NODE_ENV=production/);
    expect(attempt).toThrow(/ADMIN_TOKEN: must be set when NODE_ENV=production/);
    expect(attempt).toThrow(/READ_TOKENS: must be set when NODE_ENV=production/);
    const ok = parseConfig(EdgeConfigSchema, {
      NODE_ENV: "production",
      WRITE_KEYS: "k1",
      ADMIN_TOKEN: "a-long-token",
      READ_TOKENS: "read-token-1,read-token-2",
    });
    expect(ok.WRITE_KEYS).toEqual(["k1"]);
    expect(ok.READ_TOKENS).toEqual(["read-token-1", "read-token-2"]);
    expect(ok.METRICS_TOKEN).toBeUndefined();
  });

  it("defaults the read token outside production only", () => {
    expect(parseConfig(EdgeConfigSchema, {}).READ_TOKENS).toEqual(["dev-read-token"]);
    expect(parseConfig(RealtimeConfigSchema, {})).toMatchObject({
      READ_TOKENS: ["dev-read-token"],
      ADMIN_TOKEN: "dev-admin-token",
    });
    expect(parseConfig(EdgeConfigSchema, { READ_TOKENS: "a-read-token" }).READ_TOKENS).toEqual(["a-read-token"]);
  });

  it("requires the realtime server's read secrets in production", () => {
    const attempt = () => parseConfig(RealtimeConfigSchema, { NODE_ENV: "production" });
    expect(attempt).toThrow(/READ_TOKENS: must be set when NODE_ENV=production/);
    expect(attempt).toThrow(/ADMIN_TOKEN: must be set when NODE_ENV=production/);
    const ok = parseConfig(RealtimeConfigSchema, {
      NODE_ENV: "production",
      ADMIN_TOKEN: "a-long-token",
      READ_TOKENS: "read-token-1",
    });
    expect(ok.READ_TOKENS).toEqual(["read-token-1"]);
  });

  it("refuses short tokens, and tokens that are write keys", () => {
    const attempt = (env: Record<string, string>) => () => parseConfig(EdgeConfigSchema, env);
    expect(attempt({ READ_TOKENS: "long-enough,short" })).toThrow(/READ_TOKENS: each token must be at least 8/);
    expect(attempt({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: must be at least 8/);
    // Write keys are public: a read, admin or metrics token equal to one would open what it guards.
    expect(attempt({ WRITE_KEYS: "site-key-123", READ_TOKENS: "site-key-123" })).toThrow(/READ_TOKENS: must not be/);
    expect(attempt({ READ_TOKENS: "dev-write-key" })).toThrow(/READ_TOKENS: must not be one of WRITE_KEYS/);
    expect(attempt({ WRITE_KEYS: "site-key-123", ADMIN_TOKEN: "site-key-123" })).toThrow(/ADMIN_TOKEN: must not be/);
    expect(attempt({ WRITE_KEYS: "site-key-123", METRICS_TOKEN: "site-key-123" })).toThrow(/METRICS_TOKEN: must not/);
    expect(() => parseConfig(RealtimeConfigSchema, { READ_TOKENS: "short" })).toThrow(/READ_TOKENS/);
  });

  it("gives the webhook dispatcher the documented retry schedule, and private targets only outside production", () => {
    const config = parseConfig(DispatcherConfigSchema, {});
    expect(config.WEBHOOK_RETRY_DELAYS_MS).toEqual([5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000]);
    expect(config.WEBHOOK_RETRY_FOR_MS).toBe(86_400_000);
    expect(config.WEBHOOK_TIMEOUT_MS).toBe(10_000);
    expect(config.WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(parseConfig(DispatcherConfigSchema, { NODE_ENV: "production" }).WEBHOOK_ALLOW_PRIVATE).toBe(false);
    const allowed = { NODE_ENV: "production", WEBHOOK_ALLOW_PRIVATE: "true" };
    expect(parseConfig(DispatcherConfigSchema, allowed).WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(() => parseConfig(DispatcherConfigSchema, { WEBHOOK_RETRY_DELAYS_MS: "5s,1m" })).toThrow(
      /WEBHOOK_RETRY_DELAYS_MS/,
    );
    expect(() => parseConfig(EdgeConfigSchema, { WEBHOOK_ALLOW_PRIVATE: "yes" })).toThrow(/WEBHOOK_ALLOW_PRIVATE/);
  });

  it("lets the edge and the dispatcher allow private webhook targets in the same cases", () => {
    const secrets = { WRITE_KEYS: "k1", ADMIN_TOKEN: "a-long-token", READ_TOKENS: "read-token-1" };
    const seen = [];
    for (const NODE_ENV of ["development", "test", "production"]) {
      for (const WEBHOOK_ALLOW_PRIVATE of [undefined, "false", "true"]) {
        const env = { NODE_ENV, WEBHOOK_ALLOW_PRIVATE, ...secrets };
        seen.push({
          NODE_ENV,
          WEBHOOK_ALLOW_PRIVATE,
          edge: parseConfig(EdgeConfigSchema, env).WEBHOOK_ALLOW_PRIVATE,
          dispatcher: parseConfig(DispatcherConfigSchema, env).WEBHOOK_ALLOW_PRIVATE,
        });
      }
    }
    // Outside production always (the edge's config used to say false there while its route allowed them anyway).
    expect(seen).toEqual(
      seen.map((row) => {
        const allowed = row.NODE_ENV !== "production" || row.WEBHOOK_ALLOW_PRIVATE === "true";
        return { ...row, edge: allowed, dispatcher: allowed };
      }),
    );
  });
});
