import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge, readStaticFrom } from "../../test-support/edge.ts";
import { contentSecurityPolicy, safeSegments } from "../src/routes/static.ts";

const INDEX = "<!doctype html><title>Leadscore</title>";

describe("serving the dashboard", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "web-dist-"));
    await mkdir(join(folder, "assets"));
    await writeFile(join(folder, "index.html"), INDEX);
    await writeFile(join(folder, "assets", "index-abc123.js"), "console.log(1)");
    await writeFile(join(folder, "robots.txt"), "User-agent: *");
    edge = await createTestEdge({}, { readStatic: readStaticFrom(folder) });
  });
  afterAll(async () => {
    await edge.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("serves the page at / with security headers", async () => {
    const response = await edge.app.request("http://dash.example:8080/");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("connect-src 'self' http://dash.example:* https://dash.example:* ws://dash.example:*");
  });

  it("serves the page for the app's own paths, so a reload of /leads/:id works", async () => {
    for (const path of ["/leads/acme-42", "/leaderboard", "/rules?x=1", "/no/such/view"]) {
      const response = await edge.app.request(path);
      expect(response.status, path).toBe(200);
      expect(await response.text()).toBe(INDEX);
    }
  });

  it("serves the page on a browser navigation to a lead id with a dot in it", async () => {
    const response = await edge.app.request("/leads/acme.bob", { headers: { accept: "text/html,*/*;q=0.8" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(INDEX);
  });

  it("serves hashed assets with a long cache lifetime and their type", async () => {
    const response = await edge.app.request("/assets/index-abc123.js");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("console.log(1)");
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("content-security-policy")).toBeNull();
  });

  it("serves other files without a long cache", async () => {
    const response = await edge.app.request("/robots.txt");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-cache");
  });

  it("answers a missing asset 404 rather than with the page", async () => {
    const response = await edge.app.request("/assets/gone-000.js");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("keeps unknown API paths a JSON 404", async () => {
    for (const path of ["/api", "/api/nothing", "/api/leads/a/b/c"]) {
      const response = await edge.read(path, { headers: { accept: "text/html" } });
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(await response.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
    }
  });

  it("refuses paths that try to leave the folder", async () => {
    for (const path of ["/%2e%2e/package.json", "/assets/..%2f..%2fpackage.json", "/.env"]) {
      const response = await edge.app.request(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get("content-type")).toContain("application/json");
    }
  });
});

describe("when the dashboard is not built", () => {
  it("answers the page 404 with a hint to build it", async () => {
    const edge = await createTestEdge({}, { readStatic: async () => null });
    try {
      const response = await edge.app.request("/");
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/npm run build -w web/);
    } finally {
      await edge.close();
    }
  });
});

describe("static path rules", () => {
  it("decode segments and refuse dot segments, encoded slashes and NUL", () => {
    expect(safeSegments("/assets/a%20b.js")).toEqual(["assets", "a b.js"]);
    expect(safeSegments("/a/%2e%2e/b")).toBeNull();
    expect(safeSegments("/a%2fb")).toBeNull();
    expect(safeSegments("/a%00")).toBeNull();
    expect(safeSegments("/%E0%A4%A")).toBeNull();
  });

  it("put only a well-formed host into the policy", () => {
    expect(contentSecurityPolicy("evil.example; script-src *")).toContain("connect-src 'self';");
    expect(contentSecurityPolicy("[::1]")).toContain("ws://[::1]:*");
  });
});
