import { COLLECTIONS } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureIndexes } from "../src/indexes.ts";
import { HistoryEntrySchema } from "../src/routes/leads/history.ts";
import { LeadSchema } from "../src/routes/leads/lead.ts";
import { createTestEdge } from "./helpers.ts";
import {
  ADMIN,
  historyFor,
  insertHistory,
  insertLeads,
  nextLink,
  profileOnlyLead,
  scoredLead,
} from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type LeadBody = { _id: string; current_score: number; updated_at: string; [key: string]: unknown };

const BASE = Date.parse("2026-01-01T00:00:00.000Z");

async function getJson<T>(edge: Edge, path: string, init?: RequestInit): Promise<{ response: Response; body: T }> {
  const response = await edge.read(path, init);
  return { response, body: (await response.json()) as T };
}

/** Follows `Link: rel="next"` from `path` to the end, returning every page's ids in order. */
async function pageThrough(edge: Edge, path: string): Promise<{ ids: string[]; pages: number; totals: string[] }> {
  const ids: string[] = [];
  const totals: string[] = [];
  let next: string | null = path;
  let pages = 0;
  while (next !== null) {
    const { response, body } = await getJson<LeadBody[]>(edge, next);
    expect(response.status).toBe(200);
    ids.push(...body.map((lead) => lead._id));
    totals.push(response.headers.get("x-total-count") ?? "");
    next = nextLink(response);
    pages += 1;
    if (pages > 100) throw new Error("paging does not end");
  }
  return { ids, pages, totals };
}

describe("when listing leads", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await ensureIndexes(edge.deps.db, edge.deps.log);
    await insertLeads(edge.deps.db, [
      scoredLead("ana", 650, { name: "Ana Lima", email: "ana@globex.io", company: "Globex" }),
      scoredLead("bo", 320, { name: "Bo Chen", email: "bo@initech.com", company: "Initech" }),
      scoredLead("cy", 120, { name: "Cy Twombly", email: "cy@acme.com", company: "Acme" }),
      scoredLead("di", 40, { name: "Di A.C", email: "di@umbrella.org", company: "Umbrella" }),
      scoredLead("ed", 320, { name: "Ed Nash", email: "ed@acme.com", company: "Acme", version: 9 }),
      profileOnlyLead("fay"),
    ]);
  });
  afterAll(() => edge.close());

  it("returns a JSON array of leads, highest score first, with the total count", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("x-total-count")).toBe("6");
    expect(response.headers.get("link")).toBeNull();
    expect(body.map((lead) => lead._id)).toEqual(["ana", "bo", "ed", "cy", "di", "fay"]);
    for (const lead of body) expect(() => LeadSchema.parse(lead)).not.toThrow();
  });

  it("returns the documented fields and none of the worker's bookkeeping", async () => {
    const { body } = await getJson<LeadBody[]>(edge, "/api/leads?company=Initech");
    expect(body).toEqual([
      {
        _id: "bo",
        name: "Bo Chen",
        email: "bo@initech.com",
        company: "Initech",
        current_score: 320,
        stage: "hot",
        event_count: 1,
        last_event_at: "2026-01-01T00:00:00.000Z",
        score_reached_at: "2026-01-01T00:00:00.000Z",
        created_at: "2026-01-01T00:00:00.000Z",
        updated_at: "2026-01-01T00:00:00.000Z",
      },
    ]);
  });

  it("shows a lead without scored events as score 0, cold, no events", async () => {
    const { body } = await getJson<LeadBody[]>(edge, "/api/leads?q=profile");
    expect(body).toEqual([
      expect.objectContaining({ _id: "fay", current_score: 0, stage: "cold", event_count: 0, last_event_at: null }),
    ]);
  });

  it("filters by min_score, max_score and both", async () => {
    const ids = async (query: string) =>
      (await getJson<LeadBody[]>(edge, `/api/leads?${query}`)).body.map((lead) => lead._id);
    expect(await ids("min_score=320")).toEqual(["ana", "bo", "ed"]);
    expect(await ids("max_score=120")).toEqual(["cy", "di", "fay"]);
    expect(await ids("min_score=100&max_score=320")).toEqual(["bo", "ed", "cy"]);
    expect(await ids("min_score=0&max_score=0")).toEqual(["fay"]);
  });

  it("filters by stage, counting leads without events as cold", async () => {
    const ids = async (stage: string) =>
      (await getJson<LeadBody[]>(edge, `/api/leads?stage=${stage}`)).body.map((lead) => lead._id);
    expect(await ids("qualified")).toEqual(["ana"]);
    expect(await ids("hot")).toEqual(["bo", "ed"]);
    expect(await ids("warm")).toEqual(["cy"]);
    expect(await ids("cold")).toEqual(["di", "fay"]);
  });

  it("filters by exact company", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads?company=Acme");
    expect(body.map((lead) => lead._id)).toEqual(["ed", "cy", "fay"]);
    expect(response.headers.get("x-total-count")).toBe("3");
    expect((await getJson<LeadBody[]>(edge, "/api/leads?company=acme")).body).toEqual([]);
  });

  it("searches name, email and company case-insensitively with q", async () => {
    const ids = async (q: string) =>
      (await getJson<LeadBody[]>(edge, `/api/leads?q=${encodeURIComponent(q)}`)).body.map((lead) => lead._id);
    expect(await ids("LIMA")).toEqual(["ana"]);
    expect(await ids("initech.com")).toEqual(["bo"]);
    expect(await ids("umbrel")).toEqual(["di"]);
    expect(await ids("acme")).toEqual(["ed", "cy", "fay"]);
  });

  it("matches q literally, so regex metacharacters find only themselves", async () => {
    const ids = async (q: string) =>
      (await getJson<LeadBody[]>(edge, `/api/leads?q=${encodeURIComponent(q)}`)).body.map((lead) => lead._id);
    expect(await ids("A.C")).toEqual(["di"]);
    expect(await ids("A.c")).toEqual(["di"]);
    expect(await ids("a.*")).toEqual([]);
    expect(await ids("^ana")).toEqual([]);
  });

  it("combines filters", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads?company=Acme&stage=hot&q=nash");
    expect(body.map((lead) => lead._id)).toEqual(["ed"]);
    expect(response.headers.get("x-total-count")).toBe("1");
  });

  it("sorts by score ascending and by updated_at both ways", async () => {
    const ids = async (sort: string) =>
      (await getJson<LeadBody[]>(edge, `/api/leads?sort=${sort}`)).body.map((lead) => lead._id);
    // Ties reverse `_id` along with the sort direction.
    expect(await ids("score")).toEqual(["fay", "di", "cy", "ed", "bo", "ana"]);
    await edge.deps.db
      .collection(COLLECTIONS.leads)
      .updateOne({ _id: "cy" as never }, { $set: { updated_at: new Date(BASE + 60_000) } });
    expect((await ids("-updated_at"))[0]).toBe("cy");
    expect((await ids("updated_at")).at(-1)).toBe("cy");
  });
});

describe("when paging through 350 leads with tied scores and times", () => {
  let edge: Edge;
  const leads: { _id: string; score: number | null; updated: number }[] = [];

  beforeAll(async () => {
    edge = await createTestEdge();
    await ensureIndexes(edge.deps.db, edge.deps.log);
    const docs: object[] = [];
    for (let i = 0; i < 350; i++) {
      // Ids out of insertion order, scores and times with many ties, and some leads without score fields.
      const id = `L${((i * 7919) % 1000).toString(36)}-${i}`;
      const updated = BASE + (i % 13) * 1000;
      if (i % 35 === 0) {
        docs.push(profileOnlyLead(id, new Date(updated)));
        leads.push({ _id: id, score: null, updated });
      } else {
        const score = (i % 17) * 60;
        docs.push(scoredLead(id, score, { updated_at: new Date(updated) }));
        leads.push({ _id: id, score, updated });
      }
    }
    await insertLeads(edge.deps.db, docs);
  });
  afterAll(() => edge.close());

  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  // MongoDB orders a missing field below every number.
  const score = (lead: { score: number | null }) => lead.score ?? Number.NEGATIVE_INFINITY;
  const expected: Record<string, (a: (typeof leads)[number], b: (typeof leads)[number]) => number> = {
    "-score": (a, b) => score(b) - score(a) || byId(a._id, b._id),
    score: (a, b) => score(a) - score(b) || byId(b._id, a._id),
    "-updated_at": (a, b) => b.updated - a.updated || byId(a._id, b._id),
    updated_at: (a, b) => a.updated - b.updated || byId(b._id, a._id),
  };

  for (const sort of Object.keys(expected)) {
    it(`visits every lead once, in ${sort} order, 40 at a time`, async () => {
      const { ids, pages, totals } = await pageThrough(edge, `/api/leads?sort=${sort}&limit=40`);
      expect(pages).toBe(9);
      expect(new Set(ids).size).toBe(350);
      expect(ids).toEqual([...leads].sort(expected[sort]).map((lead) => lead._id));
      expect(new Set(totals)).toEqual(new Set(["350"]));
    });
  }

  it("pages through a filtered list with its own total on every page", async () => {
    const hot = leads.filter((lead) => lead.score !== null && lead.score >= 300 && lead.score < 600);
    const { ids, totals } = await pageThrough(edge, "/api/leads?stage=hot&sort=-score&limit=25");
    expect(ids).toEqual([...hot].sort(expected["-score"]).map((lead) => lead._id));
    expect(new Set(totals)).toEqual(new Set([String(hot.length)]));
  });

  it("uses 50 as the default page size and accepts up to 200", async () => {
    const first = await getJson<LeadBody[]>(edge, "/api/leads");
    expect(first.body).toHaveLength(50);
    expect(nextLink(first.response)).toMatch(/^\/api\/leads\?cursor=[A-Za-z0-9_-]+$/);
    const big = await getJson<LeadBody[]>(edge, "/api/leads?limit=200");
    expect(big.body).toHaveLength(200);
    const last = await getJson<LeadBody[]>(edge, "/api/leads?limit=1&min_score=960");
    expect(last.body).toHaveLength(1);
  });

  it("keeps the other parameters in the next link", async () => {
    const { response } = await getJson<LeadBody[]>(edge, "/api/leads?company=Acme&limit=10&sort=score");
    const link = new URL(nextLink(response) ?? "", "http://x");
    expect(link.searchParams.get("company")).toBe("Acme");
    expect(link.searchParams.get("limit")).toBe("10");
    expect(link.searchParams.get("sort")).toBe("score");
  });
});

describe("when creating a lead", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  const post = (body: unknown, headers: Record<string, string> = ADMIN) =>
    edge.app.request("/api/leads", { method: "POST", headers, body: JSON.stringify(body) });

  it("answers 201 with the lead and its Location", async () => {
    const response = await post({ _id: "crm:42", name: "Grace", email: "grace@example.com", company: "Hopper" });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/api/leads/crm%3A42");
    const body = LeadSchema.parse(await response.json());
    expect(body).toMatchObject({ _id: "crm:42", name: "Grace", current_score: 0, stage: "cold", event_count: 0 });
    const fetched = await edge.read("/api/leads/crm:42");
    expect(await fetched.json()).toEqual(body);
  });

  it("mints a UUID when no _id is given", async () => {
    const response = await post({ name: "Alan", email: "alan@example.com", company: "Bletchley" });
    expect(response.status).toBe(201);
    const body = (await response.json()) as { _id: string };
    expect(body._id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("accepts the token in X-Admin-Token too", async () => {
    const response = await post(
      { name: "Ada", email: "ada@example.com", company: "Engine" },
      { "x-admin-token": "test-admin-token", "content-type": "application/json; charset=utf-8" },
    );
    expect(response.status).toBe(201);
  });

  it("stores only profile fields, leaving the score fields to the worker", async () => {
    await post({ _id: "profile-only", name: "P", email: "p@example.com", company: "Q" });
    const stored = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "profile-only" as never });
    expect(Object.keys(stored ?? {}).sort()).toEqual(["_id", "company", "created_at", "email", "name", "updated_at"]);
  });

  it("attaches the profile to a lead that events created, keeping its score", async () => {
    await insertLeads(edge.deps.db, [
      scoredLead("from-events", 480, { name: null, email: null, company: null, version: 7 }),
    ]);
    const response = await post({ _id: "from-events", name: "Eve", email: "eve@example.com", company: "Ev" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ _id: "from-events", name: "Eve", current_score: 480, stage: "hot" });
    const stored = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "from-events" as never });
    expect(stored).toMatchObject({ current_score: 480, version: 7, event_count: 1 });
  });

  it("answers 409 and changes nothing when the lead already has a profile", async () => {
    await post({ _id: "taken", name: "First", email: "first@example.com", company: "One" });
    const response = await post({ _id: "taken", name: "Second", email: "second@example.com", company: "Two" });
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({
      error: {
        code: "CONFLICT",
        message: "lead taken already exists",
        details: [{ path: "_id", message: "is taken" }],
      },
    });
    const fetched = (await (await edge.read("/api/leads/taken")).json()) as { name: string };
    expect(fetched.name).toBe("First");
  });
});

describe("when reading one lead and its history", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await ensureIndexes(edge.deps.db, edge.deps.log);
    await insertLeads(edge.deps.db, [scoredLead("hist", 600), scoredLead("quiet", 0), scoredLead("leaderboard", 1)]);
    await insertHistory(edge.deps.db, [...historyFor("hist", 120), ...historyFor("other", 3)]);
  });
  afterAll(() => edge.close());

  it("returns the lead by id", async () => {
    const { response, body } = await getJson<LeadBody>(edge, "/api/leads/hist");
    expect(response.status).toBe(200);
    expect(LeadSchema.parse(body)).toMatchObject({ _id: "hist", current_score: 600, stage: "qualified" });
  });

  it("lists history newest first by default", async () => {
    const { response, body } = await getJson<{ event_id: string; score: number }[]>(edge, "/api/leads/hist/history");
    expect(response.status).toBe(200);
    expect(response.headers.get("x-total-count")).toBe("120");
    expect(body).toHaveLength(50);
    expect(body[0]).toMatchObject({ event_id: "hist-e0119", score: 600 });
    for (const entry of body) expect(() => HistoryEntrySchema.parse(entry)).not.toThrow();
    expect(Object.keys(body[0] ?? {})).not.toContain("sort_key");
  });

  it("lists history oldest first with order=asc", async () => {
    const { body } = await getJson<{ event_id: string }[]>(edge, "/api/leads/hist/history?order=asc&limit=3");
    expect(body.map((entry) => entry.event_id)).toEqual(["hist-e0000", "hist-e0001", "hist-e0002"]);
  });

  for (const order of ["desc", "asc"]) {
    it(`pages through the whole history in ${order} order`, async () => {
      const ids: string[] = [];
      let next: string | null = `/api/leads/hist/history?order=${order}&limit=40`;
      while (next !== null) {
        const { response, body } = await getJson<{ event_id: string }[]>(edge, next);
        ids.push(...body.map((entry) => entry.event_id));
        next = nextLink(response);
      }
      const all = historyFor("hist", 120).map((entry) => entry.event_id);
      expect(ids).toEqual(order === "asc" ? all : all.reverse());
    });
  }

  it("returns an empty history for a lead without events", async () => {
    const { response, body } = await getJson<unknown[]>(edge, "/api/leads/quiet/history");
    expect(response.status).toBe(200);
    expect(body).toEqual([]);
    expect(response.headers.get("x-total-count")).toBe("0");
  });
});

describe("when reading the leaderboard", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await ensureIndexes(edge.deps.db, edge.deps.log);
    const docs = Array.from({ length: 120 }, (_, i) =>
      scoredLead(`p${String(i).padStart(3, "0")}`, i * 5, { score_reached_at: new Date(BASE + i) }),
    );
    docs.push(
      // Same score as p119 (595): reached it earlier, so ranks first; same time → by id.
      scoredLead("early", 595, { score_reached_at: new Date(BASE - 1000) }),
      scoredLead("zz-late", 595, { score_reached_at: new Date(BASE + 10_000) }),
      scoredLead("aa-late", 595, { score_reached_at: new Date(BASE + 10_000) }),
      scoredLead("leaderboard", 1),
    );
    await insertLeads(edge.deps.db, docs);
  });
  afterAll(() => edge.close());

  it("returns the top 10 by score, ties to whoever got there first, then by id", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads/leaderboard");
    expect(response.status).toBe(200);
    expect(body.map((lead) => lead._id)).toEqual([
      "early",
      "p119",
      "aa-late",
      "zz-late",
      "p118",
      "p117",
      "p116",
      "p115",
      "p114",
      "p113",
    ]);
    for (const lead of body) expect(() => LeadSchema.parse(lead)).not.toThrow();
  });

  it("returns up to 100 with limit", async () => {
    expect((await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=3")).body).toHaveLength(3);
    expect((await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=100")).body).toHaveLength(100);
  });

  it("is not read as the lead with id 'leaderboard'", async () => {
    const { body } = await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=1");
    expect(Array.isArray(body)).toBe(true);
  });
});
