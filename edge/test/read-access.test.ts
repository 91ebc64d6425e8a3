// Reads (leads, history, score series, leaderboard, rules, event types) need a read token or the admin token; a write key — public
// by design — never reads. `/metrics` needs METRICS_TOKEN when one is set. Health, the API description and the
// dashboard's files stay open.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLLECTIONS } from "@leadscore/contracts";
import { previewKey, rescoreJobKey } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge, readStaticFrom } from "../../test-support/edge.ts";
import { scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type ErrorBody = { error: { code: string; message: string; details: unknown[] } };

const READ_PATHS = [
  "/api/leads",
  "/api/leads?stage=hot&sort=-score&limit=5",
  "/api/leads/leaderboard",
  "/api/leads/reader",
  "/api/leads/reader/history",
  "/api/leads/reader/series",
  "/api/leads/reader/events/reader",
  "/api/leads/export.csv?stage=hot",
  "/api/rules",
  "/api/rule-groups",
  "/api/rule-groups/reader",
  "/api/events/event-types",
];

/** A preview's id (they are UUIDs), for `/api/rule-sets/previews/:id`. */
const PREVIEW = "00000000-0000-4000-8000-000000000001";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("when a read carries no valid read token", () => {
  let edge: Edge;
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "web-dist-"));
    await writeFile(join(folder, "index.html"), "<!doctype html><title>Leadscore</title>");
    edge = await createTestEdge(
      { READ_TOKENS: "read-token-one,read-token-two", CORS_ORIGINS: "https://dash.example.com" },
      { readStatic: readStaticFrom(folder) },
    );
    await seederFor(edge).seed([scoredLead("reader", 420)]);
    await edge.ready();
    // An event with the id every route parameter gets below, so `/api/leads/reader/events/reader` finds it.
    const at = new Date();
    await edge.deps.db.collection(COLLECTIONS.events).insertOne({
      _id: "reader",
      lead_id: "reader",
      event_type: "purchase",
      timestamp: at,
      received_at: at,
      metadata: {},
      points: 420,
      rule_id: null,
      sort_key: "reader",
    } as never);
    // A stored rule-set version 1 (seeding the default rules stores it; kept if so) and a draft, for
    // `/api/rule-sets/1` and `/api/rule-sets/draft`.
    await edge.deps.db
      .collection(COLLECTIONS.ruleSets)
      .updateOne(
        { _id: 1 as never },
        { $setOnInsert: { set: JSON.stringify({ version: 1, rules: [], groups: [] }), by: "admin", at } },
        { upsert: true },
      );
    await edge.deps.db.collection(COLLECTIONS.ruleDrafts).insertOne({
      _id: "draft",
      set: JSON.stringify({ rules: [], groups: [] }),
      based_on: 1,
      by: "admin",
      created_at: at,
      updated_at: at,
    } as never);
    await edge.redis.hset(previewKey(edge.deps.config.REDIS_PREFIX, PREVIEW), {
      id: PREVIEW,
      state: "queued",
      draft: "{}",
      based_on: 1,
      created_at: at.getTime(),
    });
    // A re-score by that id, for `/api/rule-sets/rescores/reader`.
    await edge.redis.hset(rescoreJobKey(edge.deps.config.REDIS_PREFIX, "reader"), {
      id: "reader",
      version: 1,
      webhooks: "suppress",
      state: "done",
      created_at: at.getTime(),
    });
    // And a rule group by that id, for `/api/rule-groups/reader`.
    await edge.deps.db
      .collection(COLLECTIONS.ruleGroups)
      .insertOne({ _id: "reader", label: "Reader", max: 10, created_at: at, updated_at: at } as never);
  });
  afterAll(async () => {
    await edge.close();
    await rm(folder, { recursive: true, force: true });
  });

  const get = (path: string, headers: Record<string, string> = {}) => edge.app.request(path, { headers });

  async function expectRefused(response: Response, challenge: string, what: string) {
    expect(response.status, what).toBe(401);
    expect(response.headers.get("www-authenticate"), what).toBe(challenge);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code, what).toBe("UNAUTHORIZED");
    expect(body.error.details, what).toEqual([]);
  }

  it("answers 401 with a challenge when no token is given", async () => {
    for (const path of READ_PATHS) {
      const anonymous: Record<string, string>[] = [
        {},
        { authorization: "Bearer" },
        { authorization: "Basic cmVhZDpyZWFk" },
      ];
      for (const headers of anonymous) {
        await expectRefused(await get(path, headers), 'Bearer realm="leadscore"', `${path} ${JSON.stringify(headers)}`);
      }
    }
  });

  it("answers 401 invalid_token to a write key, a wrong token, or the admin token in X-Admin-Token", async () => {
    const invalid = 'Bearer realm="leadscore", error="invalid_token"';
    for (const path of READ_PATHS) {
      for (const token of ["test-write-key", "read-token-onE", "read-token-one-and-more", "read-token", "x"]) {
        await expectRefused(await get(path, bearer(token)), invalid, `${path} ${token}`);
      }
      // Only `Authorization: Bearer` carries a read: the write key's and the admin token's own headers do not.
      const otherHeaders: Record<string, string>[] = [
        { "x-write-key": "test-write-key" },
        { "x-admin-token": "test-admin-token" },
      ];
      for (const headers of otherHeaders) {
        await expectRefused(await get(path, headers), 'Bearer realm="leadscore"', `${path} ${JSON.stringify(headers)}`);
      }
    }
  });

  it("refuses a write key even in the query string", async () => {
    const response = await get("/api/leads?key=test-write-key");
    expect(response.status).toBe(401);
  });

  it("never echoes the presented token", async () => {
    const text = await (await get("/api/leads", bearer("secret-guess-123"))).text();
    expect(text).not.toContain("secret-guess-123");
  });

  it("checks the token before the query, so a refused client learns nothing from validation", async () => {
    expect((await get("/api/leads?limit=5000&colour=red")).status).toBe(401);
    expect((await get("/api/leads/a%20b")).status).toBe(401);
  });

  it("answers each read with any of the read tokens, or the admin token", async () => {
    for (const path of READ_PATHS) {
      for (const token of ["read-token-one", "read-token-two", "test-admin-token"]) {
        const response = await get(path, bearer(token));
        expect(response.status, `${path} ${token}`).toBe(200);
      }
    }
    const lead = (await (await get("/api/leads/reader", bearer("read-token-two"))).json()) as { current_score: number };
    expect(lead.current_score).toBe(420);
  });

  it("guards every GET route under /api, including ones added later", async () => {
    const reads = edge.app.routes
      .filter((route) => route.method === "GET" && route.path.startsWith("/api/") && !route.path.includes("*"))
      .map((route) =>
        route.path.replace(":version", "1").replace("previews/:id", `previews/${PREVIEW}`).replace(/:\w+/g, "reader"),
      );
    expect(reads.length).toBeGreaterThanOrEqual(6);
    for (const path of new Set(reads)) {
      // Webhook reads need the admin token (a subscription's URL and delivery log are configuration), and so do dead
      // letters (other clients' raw events): a read token or a write key is a token that does not grant them.
      if (path.startsWith("/api/webhooks") || path.startsWith("/api/dead-letters")) {
        expect((await get(path)).status, path).toBe(401);
        expect((await get(path, bearer("test-write-key"))).status, path).toBe(403);
        expect((await get(path, bearer("read-token-one"))).status, path).toBe(403);
        continue;
      }
      expect((await get(path)).status, path).toBe(401);
      expect((await get(path, bearer("test-write-key"))).status, path).toBe(401);
      expect((await get(path, bearer("read-token-one"))).status, path).toBe(200);
    }
  });

  it("keeps health, the API description and the dashboard open", async () => {
    for (const path of ["/healthz", "/readyz", "/openapi.json", "/docs", "/", "/leads/reader"]) {
      expect((await get(path)).status, path).toBe(200);
    }
  });

  it("answers a browser's preflight without a token, and lets a listed origin read the 401", async () => {
    const preflight = await edge.app.request("/api/leads", {
      method: "OPTIONS",
      headers: {
        origin: "https://dash.example.com",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
    expect(preflight.headers.get("access-control-allow-credentials")).toBeNull();

    const refused = await get("/api/leads", { origin: "https://dash.example.com" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    const stranger = await get("/api/leads", { origin: "https://evil.example.com", ...bearer("read-token-one") });
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("GET /metrics", () => {
  it("is open when no METRICS_TOKEN is set", async () => {
    const edge = await createTestEdge();
    try {
      expect((await edge.app.request("/metrics")).status).toBe(200);
    } finally {
      await edge.close();
    }
  });

  describe("when a METRICS_TOKEN is set", () => {
    let edge: Edge;
    beforeAll(async () => {
      edge = await createTestEdge({ METRICS_TOKEN: "scrape-token-123" });
    });
    afterAll(() => edge.close());

    it("answers 401 without it, and to any other token", async () => {
      const missing = await edge.app.request("/metrics");
      expect(missing.status).toBe(401);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="leadscore-metrics"');
      expect(((await missing.json()) as ErrorBody).error.code).toBe("UNAUTHORIZED");
      for (const token of ["test-read-token", "test-admin-token", "test-write-key", "scrape-token-12"]) {
        const response = await edge.app.request("/metrics", { headers: bearer(token) });
        expect(response.status, token).toBe(401);
        expect(response.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
      }
    });

    it("serves the metrics with it", async () => {
      const response = await edge.app.request("/metrics", { headers: bearer("scrape-token-123") });
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/^leadscore_queue_up 1$/m);
    });
  });
});
