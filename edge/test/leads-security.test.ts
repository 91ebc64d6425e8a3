import { COLLECTIONS } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type ErrorBody = { error: { code: string; details: { path: string }[] } };

const profile = { name: "N", email: "n@example.com", company: "C" };

describe("when a lead write is not authorised", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  const post = (headers: Record<string, string>) =>
    edge.app.request("/api/leads", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ _id: "intruder", ...profile }),
    });

  it("answers 401 with WWW-Authenticate when no token is given", async () => {
    const cases: Record<string, string>[] = [
      {},
      { authorization: "Basic dGVzdDp0ZXN0" },
      { authorization: "Bearer" },
      { "x-admin-token": "" },
    ];
    for (const headers of cases) {
      const response = await post(headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="leadscore-admin"');
      expect(((await response.json()) as ErrorBody).error.code).toBe("UNAUTHORIZED");
    }
  });

  it("answers 403 for a wrong token in either header", async () => {
    const cases: Record<string, string>[] = [
      { authorization: "Bearer test-admin-tokeN" },
      { authorization: "Bearer test-admin-token-and-more" },
      { authorization: "Bearer t" },
      { "x-admin-token": "test-write-key" },
    ];
    for (const headers of cases) {
      const response = await post(headers);
      expect(response.status).toBe(403);
      expect(((await response.json()) as ErrorBody).error.code).toBe("FORBIDDEN");
    }
  });

  it("writes nothing when refused", async () => {
    await post({ authorization: "Bearer wrong-token" });
    expect(await edge.deps.db.collection(COLLECTIONS.leads).countDocuments({})).toBe(0);
  });

  it("checks the token before reading the body", async () => {
    const response = await edge.app.request("/api/leads", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x".repeat(100_000),
    });
    expect(response.status).toBe(401);
  });

  it("does not take a read token for a write", async () => {
    expect((await post({ authorization: "Bearer test-read-token" })).status).toBe(403);
  });
});

describe("when requests try to smuggle MongoDB operators", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("victim", 900, { profile: { company: "Secret", email: "ceo@secret.com" } }),
      scoredLead("other", 100, { profile: { company: "Open" } }),
    ]);
  });
  afterAll(() => edge.close());

  const status = async (path: string) => (await edge.read(path)).status;
  const ids = async (path: string) => ((await (await edge.read(path)).json()) as { _id: string }[]).map((l) => l._id);

  it("refuses bracketed operator parameters", async () => {
    for (const query of [
      "company[$ne]=x",
      "company[%24ne]=x",
      "min_score[$gt]=0",
      "stage[$in][]=hot",
      "$where=1",
      "q[$regex]=.*",
      "sort[$natural]=1",
    ]) {
      const response = await edge.read(`/api/leads?${query}`);
      expect(response.status, query).toBe(400);
    }
  });

  it("matches operator-looking strings literally", async () => {
    expect(await ids(`/api/leads?company=${encodeURIComponent('{"$ne":"x"}')}`)).toEqual([]);
    expect(await ids("/api/leads?company=%24ne")).toEqual([]);
    expect(await ids("/api/leads?q=%24where")).toEqual([]);
  });

  it("treats q as text, so patterns and regex bombs match only themselves", async () => {
    expect(await ids("/api/leads?q=.*")).toEqual([]);
    expect(await ids(`/api/leads?q=${encodeURIComponent("(a+)+$")}`)).toEqual([]);
    expect(await ids(`/api/leads?q=${encodeURIComponent("(?i)secret|open")}`)).toEqual([]);
    expect(await ids(`/api/leads?q=${encodeURIComponent("\\")}`)).toEqual([]);
    expect(await ids(`/api/leads?q=${encodeURIComponent("[")}`)).toEqual([]);
    expect(await status(`/api/leads?q=${"(a+)+".repeat(21)}`)).toBe(400);
  });

  it("refuses operator-shaped or reserved ids in paths", async () => {
    for (const id of ["%24where", "%24gt", "%7B%22%24ne%22%3A1%7D", "a%00b", "..%2F..%2Fetc"]) {
      expect(await status(`/api/leads/${id}`), id).toBe(400);
      expect(await status(`/api/leads/${id}/history`), id).toBe(400);
    }
  });

  it("refuses operator objects and reserved keys in a lead body", async () => {
    const post = (body: string) =>
      edge.app.request("/api/leads", {
        method: "POST",
        headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
        body,
      });
    for (const body of [
      JSON.stringify({ _id: { $gt: "" }, ...profile }),
      JSON.stringify({ ...profile, name: { $where: "sleep(1000)" } }),
      JSON.stringify({ ...profile, company: { $ne: null } }),
      JSON.stringify({ ...profile, $set: { current_score: 1000 } }),
      JSON.stringify({ ...profile, "stage.x": 1 }),
      `{"__proto__": {"admin": true}, "name": "N", "email": "n@example.com", "company": "C"}`,
      JSON.stringify({ _id: "victim", ...profile, current_score: 0 }),
    ]) {
      expect((await post(body)).status, body).toBe(400);
    }
    const victim = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "victim" as never });
    expect(victim).toMatchObject({ company: "Secret", name: "Lead victim" });
    expect(await edge.deps.live.lead("victim")).toMatchObject({ score: 900, company: "Secret", name: "Lead victim" });
  });

  it("never lets a profile write change a scored lead", async () => {
    const response = await edge.app.request("/api/leads", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ _id: "victim", ...profile }),
    });
    expect(response.status).toBe(409);
    const victim = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "victim" as never });
    expect(victim).toMatchObject({ name: "Lead victim", company: "Secret" });
    expect(await edge.deps.live.lead("victim")).toMatchObject({ score: 900, version: 1, name: "Lead victim" });
  });
});

describe("when a browser calls from another origin", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ CORS_ORIGINS: "https://dash.example.com,https://admin.example.com" });
  });
  afterAll(() => edge.close());

  it("allows a listed origin and exposes the paging headers", async () => {
    const response = await edge.read("/api/leads", { headers: { origin: "https://dash.example.com" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
    expect(response.headers.get("access-control-expose-headers")).toMatch(/Link/);
    expect(response.headers.get("access-control-expose-headers")).toMatch(/X-Total-Count/);
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
    expect(response.headers.get("vary")).toMatch(/Origin/i);
  });

  it("answers a listed origin's preflight for an admin write", async () => {
    const response = await edge.app.request("/api/leads", {
      method: "OPTIONS",
      headers: {
        origin: "https://admin.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    expect(response.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(response.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
  });

  it("gives an unlisted origin no CORS headers, on reads, preflights and errors", async () => {
    const inits: RequestInit[] = [
      { headers: { origin: "https://evil.example.com" } },
      { method: "OPTIONS", headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" } },
    ];
    for (const init of inits) {
      const response = await edge.app.request("/api/leads", init);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
    }
    const error = await edge.read("/api/leads/nobody", { headers: { origin: "https://evil.example.com" } });
    expect(error.status).toBe(404);
    expect(error.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("keeps CORS headers on error responses for a listed origin", async () => {
    const response = await edge.read("/api/leads/nobody", { headers: { origin: "https://dash.example.com" } });
    expect(response.status).toBe(404);
    expect(response.headers.get("access-control-allow-origin")).toBe("https://dash.example.com");
  });
});
