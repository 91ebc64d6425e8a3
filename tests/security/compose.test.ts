// `docker compose up` must be safe as shipped: production mode with secrets the user chooses (never the public dev
// ones), ports on loopback unless the user opts out, and each process the container's main process so SIGTERM
// reaches it. `docker compose config` needs a Docker engine, so the file is parsed and its interpolation (the
// subset of compose's syntax it uses) is applied here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WORKER_NODE_FLAGS } from "@leadscore/worker/node-flags";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { interpolate } from "../../test-support/compose.ts";
import { ROOT } from "../../test-support/processes.ts";

const text = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
const backingText = readFileSync(join(ROOT, "docker-compose.services.yml"), "utf8");
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  init?: boolean;
}
const compose = parse(text) as { include?: string[]; services: Record<string, Service> };
const backing = parse(backingText) as { services: Record<string, Service> };
const APPS = ["edge", "worker", "realtime"] as const;
const SECRETS = ["WRITE_KEYS", "ADMIN_TOKEN", "READ_TOKENS"] as const;

const nodeEnv = (service: Service) =>
  service.environment?.NODE_ENV ?? dockerfile.match(/^ENV NODE_ENV=(\S+)/m)?.[1] ?? "development";

describe("docker-compose.yml", () => {
  it("runs the worker with the Node flags every launcher gives it", () => {
    const command = compose.services.worker?.command ?? [];
    expect(command.slice(0, 1 + WORKER_NODE_FLAGS.length)).toEqual(["node", ...WORKER_NODE_FLAGS]);
    expect(command.at(-1)).toBe("worker/src/main.ts");
  });

  it("runs the app in production mode, with no default for any secret", () => {
    for (const app of APPS) {
      const service = compose.services[app] as Service;
      expect(nodeEnv(service), app).toBe("production");
      for (const secret of SECRETS) {
        expect(service.environment?.[secret], `${app} ${secret}`).toMatch(new RegExp(`^\\$\\{${secret}:\\?.+\\}$`));
      }
    }
    expect(text + backingText).not.toMatch(/dev-(write-key|admin-token|read-token)/);
    expect(text).not.toMatch(new RegExp(`\\$\\{(${SECRETS.join("|")}):?-`));
  });

  it("leaves the backing services, which need no secret, startable on their own", () => {
    expect(Object.keys(backing.services).sort()).toEqual(["mongo", "redis"]);
    expect(() => interpolate(backingText, {})).not.toThrow();
  });

  it("refuses to start without the secrets, naming each", () => {
    const environment = JSON.stringify(compose.services.edge?.environment);
    for (const missing of SECRETS) {
      const env = Object.fromEntries(SECRETS.filter((name) => name !== missing).map((name) => [name, "s3cret-value"]));
      expect(() => interpolate(environment, env)).toThrow(new RegExp(`required variable ${missing} `));
      expect(() => interpolate(environment, { ...env, [missing]: "" })).toThrow(new RegExp(missing));
    }
    const all = Object.fromEntries(SECRETS.map((name) => [name, `${name.toLowerCase()}-value`]));
    expect(JSON.parse(interpolate(environment, all))).toMatchObject(all);
  });

  it("publishes every port on 127.0.0.1 unless BIND_ADDRESS says otherwise", () => {
    expect(compose.include).toEqual(["docker-compose.services.yml"]);
    const services = [...Object.values(compose.services), ...Object.values(backing.services)];
    const ports = services.flatMap((service) => service.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) {
      expect(interpolate(port, {}), port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
    const edgePort = compose.services.edge?.ports?.[0] as string;
    expect(interpolate(edgePort, { BIND_ADDRESS: "0.0.0.0" })).toBe("0.0.0.0:8080:8080");
  });

  it("runs each process itself, not through a launcher that keeps signals from it", () => {
    for (const app of APPS) {
      const service = compose.services[app] as Service;
      const [program, ...args] = service.command ?? [];
      if (app === "edge") {
        expect(program).toBe("node_modules/.bin/deno");
        expect(args.slice(0, 1)).toEqual(["run"]);
      } else {
        expect(program, app).toBe("node");
        // Node's own flags (the worker's, node-flags.ts) may come first; tsx is loaded in-process, not a launcher.
        const flags = app === "worker" ? WORKER_NODE_FLAGS.length : 0;
        expect(args.slice(flags, flags + 2), app).toEqual(["--import", "tsx"]);
      }
      expect(service.command?.join(" "), app).not.toMatch(/\b(npx|npm|sh|bash)\b|\.bin\/tsx|^tsx/);
      expect(service.init, `${app} has an init that passes signals on`).toBe(true);
    }
  });

  it("builds an image that does not run as root", () => {
    const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((match) => match[1]);
    expect(users.at(-1)).toBe("node");
  });
});
