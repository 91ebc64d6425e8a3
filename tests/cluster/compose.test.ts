// docker-compose.cluster.yml runs the stack on a three-master Redis Cluster. It cannot run here (no Docker engine),
// so it is parsed as Compose reads it (merge keys, interpolation) and what each process gets is checked: the
// configuration every entry point parses, the cluster's nodes, and the same production safeguards as
// docker-compose.yml.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  DispatcherConfigSchema,
  EdgeConfigSchema,
  parseConfig,
  RealtimeConfigSchema,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { interpolate } from "../../test-support/compose.ts";
import { ROOT } from "../../test-support/processes.ts";

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  init?: boolean;
  depends_on?: Record<string, { condition: string }>;
  networks?: string[] | Record<string, { ipv4_address?: string }>;
}

const text = readFileSync(join(ROOT, "docker-compose.cluster.yml"), "utf8");
const SECRETS = { WRITE_KEYS: "write-key-value", ADMIN_TOKEN: "admin-token-value", READ_TOKENS: "read-token-value" };
const compose = parse(interpolate(text, SECRETS), { merge: true }) as { services: Record<string, Service> };
const APPS = {
  edge: EdgeConfigSchema,
  worker: WorkerConfigSchema,
  dispatcher: DispatcherConfigSchema,
  realtime: RealtimeConfigSchema,
};
const NODES = ["redis-1", "redis-2", "redis-3"];

const service = (name: string) => compose.services[name] as Service;
const addressOf = (name: string) => {
  const networks = service(name).networks as Record<string, { ipv4_address?: string }>;
  return networks["redis-cluster"]?.ipv4_address;
};

describe("docker-compose.cluster.yml", () => {
  it("starts three cluster-enabled Redis nodes and joins them once they answer", () => {
    for (const node of NODES) {
      expect(service(node).command?.slice(0, 3), node).toEqual(["redis-server", "--cluster-enabled", "yes"]);
      expect(service(node).command, node).toContain("--appendonly");
    }
    const init = service("redis-cluster-init");
    expect(Object.keys(init.depends_on ?? {}).sort()).toEqual(NODES);
    const script = init.command?.at(-1) ?? "";
    expect(script).toMatch(/redis-cli --cluster create .* --cluster-replicas 0 --cluster-yes/);
    for (const node of NODES) expect(script).toContain(`${addressOf(node)}:6379`);
  });

  it("gives every process a configuration its entry point accepts, naming the three nodes", () => {
    for (const [app, schema] of Object.entries(APPS)) {
      const config = parseConfig(schema, service(app).environment ?? {});
      expect(config.REDIS_CLUSTER_NODES, app).toEqual(NODES.map((node) => ({ host: addressOf(node), port: 6379 })));
      expect(config.NODE_ENV, app).toBe("production");
      expect(service(app).init, app).toBe(true);
      expect(service(app).depends_on?.["redis-cluster-init"], app).toEqual({
        condition: "service_completed_successfully",
      });
    }
    const worker = service("worker").command ?? [];
    expect(worker.slice(0, 1 + WORKER_NODE_FLAGS.length)).toEqual(["node", ...WORKER_NODE_FLAGS]);
  });

  it("refuses to start without the secrets and publishes on 127.0.0.1 unless BIND_ADDRESS says otherwise", () => {
    for (const missing of Object.keys(SECRETS)) {
      const env = Object.fromEntries(Object.entries(SECRETS).filter(([name]) => name !== missing));
      expect(() => interpolate(text, env)).toThrow(new RegExp(`required variable ${missing} `));
    }
    const ports = Object.values(
      parse(interpolate(text, SECRETS), { merge: true }).services as Record<string, Service>,
    ).flatMap((entry) => entry.ports ?? []);
    expect(ports).toEqual(["127.0.0.1:8080:8080", "127.0.0.1:8081:8081"]);
    expect(interpolate(text, { ...SECRETS, BIND_ADDRESS: "0.0.0.0" })).toContain('"0.0.0.0:8080:8080"');
  });
});
