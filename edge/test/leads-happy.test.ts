import { COLLECTIONS, foldScores, type HistoryPageDocument } from "@leadscore/contracts";
import { encodePendingPage, rankKey } from "@leadscore/live";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventsOf } from "../../test-support/live.ts";
import { HistoryEntrySchema } from "../src/routes/leads/history.ts";
import { LeadSchema, RankedLeadSchema } from "../src/routes/leads/lead.ts";
import { ADMIN, BASE, historyEvents, nextLink, profileOnlyLead, scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type LeadBody = { _id: string; current_score: number; updated_at: string; [key: string]: unknown };

async function getJson<T>(edge: Edge, path: string, init?: RequestInit): Promise<{ response: Response; body: T }> {
  const response = await edge.read(path, init);
  return { response, body: (await response.json()) as T };
}

/** Follows `Link: rel="next"` from `path` to the end, returning every page's ids in order. */
async function pageThrough(
  edge: Edge,
  path: string,
): Promise<{ ids: string[]; pages: number; totals: string[]; byPage: string[][] }> {
  const ids: string[] = [];
  const totals: string[] = [];
  const byPage: string[][] = [];
  let next: string | null = path;
  let pages = 0;
  while (next !== null) {
    const { response, body } = await getJson<LeadBody[]>(edge, next);
    expect(response.status).toBe(200);
    ids.push(...body.map((lead) => lead._id));
    byPage.push(body.map((lead) => lead._id));
    totals.push(response.headers.get("x-total-count") ?? "");
    next = nextLink(response);
    pages += 1;
    if (pages > 100) throw new Error("paging does not end");
  }
  return { ids, pages, totals, byPage };
}

describe("when listing leads", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("ana", 650, { profile: { name: "Ana Lima", email: "ana@globex.io", company: "Globex" } }),
      scoredLead("bo", 320, { profile: { name: "Bo Chen", email: "bo@initech.com", company: "Initech" } }),
      scoredLead("cy", 120, { profile: { name: "Cy Twombly", email: "cy@acme.com", company: "Acme" } }),
      scoredLead("di", 40, { profile: { name: "Di A.C", email: "di@umbrella.org", company: "Umbrella" } }),
      scoredLead("ed", 320, { profile: { name: "Ed Nash", email: "ed@acme.com", company: "Acme" } }),
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

  it("filters by any part of the company name, in any case", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads?company=Acme");
    expect(body.map((lead) => lead._id)).toEqual(["ed", "cy", "fay"]);
    expect(response.headers.get("x-total-count")).toBe("3");
    expect((await getJson<LeadBody[]>(edge, "/api/leads?company=cM")).body.map((lead) => lead._id)).toEqual([
      "ed",
      "cy",
      "fay",
    ]);
    expect((await getJson<LeadBody[]>(edge, "/api/leads?company=nitec")).body.map((lead) => lead._id)).toEqual(["bo"]);
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
    // `score` is the exact reverse of `-score`, ties included.
    expect(await ids("score")).toEqual(["fay", "di", "cy", "ed", "bo", "ana"]);
    // The worker commits cy again, a minute later.
    await seederFor(edge).seed([{ id: "cy", events: eventsOf("cy", [120], BASE), updatedAt: BASE + 60_000 }]);
    expect((await ids("-updated_at"))[0]).toBe("cy");
    expect((await ids("updated_at")).at(-1)).toBe("cy");
  });
});

describe("when paging through 350 leads with tied scores and times", () => {
  let edge: Edge;
  type Row = { _id: string; score: number; reached: number | null; updated: number; company: string };
  const leads: Row[] = [];

  beforeAll(async () => {
    edge = await createTestEdge();
    const seeds = [];
    for (let i = 0; i < 350; i++) {
      // Ids out of insertion order, scores, times of reaching them and update times with many ties, some leads
      // without any event, and two companies.
      const id = `L${((i * 7919) % 1000).toString(36)}-${i}`;
      const updated = BASE + (i % 13) * 1000;
      const company = i % 3 === 0 ? "Initech" : "Acme";
      const profile = { name: `Lead ${i}`, email: `${id}@example.com`, company };
      if (i % 35 === 0) {
        seeds.push({ ...profileOnlyLead(id, updated), profile });
        leads.push({ _id: id, score: 0, reached: null, updated, company });
      } else {
        const score = (i % 17) * 60;
        const at = BASE + (i % 5) * 1000;
        seeds.push(scoredLead(id, score, { at, updatedAt: updated, profile }));
        leads.push({ _id: id, score, reached: score === 0 ? null : at, updated, company });
      }
    }
    await seederFor(edge).seed(seeds);
  });
  afterAll(() => edge.close());

  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  // Leaderboard order: score, then who reached it first (never reached first), then id.
  const rank = (lead: Row) => rankKey(lead.score, lead.reached, 1000);
  const expected: Record<string, (a: Row, b: Row) => number> = {
    "-score": (a, b) => rank(a) - rank(b) || byId(a._id, b._id),
    score: (a, b) => rank(b) - rank(a) || byId(b._id, a._id),
    "-updated_at": (a, b) => b.updated - a.updated || byId(b._id, a._id),
    updated_at: (a, b) => a.updated - b.updated || byId(a._id, b._id),
  };
  const inMemory = (sort: string, keep: (lead: Row) => boolean = () => true) =>
    leads
      .filter(keep)
      .sort(expected[sort])
      .map((lead) => lead._id);

  for (const sort of Object.keys(expected)) {
    it(`visits every lead once, in ${sort} order, 40 at a time`, async () => {
      const { ids, pages, totals } = await pageThrough(edge, `/api/leads?sort=${sort}&limit=40`);
      expect(pages).toBe(9);
      expect(new Set(ids).size).toBe(350);
      expect(ids).toEqual(inMemory(sort));
      expect(new Set(totals)).toEqual(new Set(["350"]));
    });
  }

  const hot = (lead: Row) => lead.score >= 300 && lead.score < 600;
  const cases: [string, string, (lead: Row) => boolean][] = [
    ["stage=hot", "-score", hot],
    ["stage=hot", "-updated_at", hot],
    ["stage=warm", "updated_at", (lead) => lead.score >= 100 && lead.score < 300],
    ["min_score=200&max_score=700", "-updated_at", (lead) => lead.score >= 200 && lead.score <= 700],
    ["max_score=500", "score", (lead) => lead.score <= 500],
    ["company=Acme&stage=hot", "-score", (lead) => lead.company === "Acme" && hot(lead)],
    ["company=Initech", "-updated_at", (lead) => lead.company === "Initech"],
    ["q=initech&min_score=100", "score", (lead) => lead.company === "Initech" && lead.score >= 100],
  ];
  for (const [filter, sort, keep] of cases) {
    it(`pages ${filter} by ${sort} like an in-memory sort, page 1 and page 5 included`, async () => {
      const want = inMemory(sort, keep);
      const { ids, byPage, totals } = await pageThrough(edge, `/api/leads?${filter}&sort=${sort}&limit=7`);
      expect(want.length).toBeGreaterThan(35);
      expect(byPage[0]).toEqual(want.slice(0, 7));
      expect(byPage[4]).toEqual(want.slice(28, 35));
      expect(ids).toEqual(want);
      expect(new Set(totals)).toEqual(new Set([String(want.length)]));
    });
  }

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
  // An edge per test: a new lead's rank depends on every lead created before it.
  let edge: Edge;
  beforeEach(async () => {
    edge = await createTestEdge();
  });
  afterEach(() => edge.close());

  const post = (body: unknown, headers: Record<string, string> = ADMIN) =>
    edge.app.request("/api/leads", { method: "POST", headers, body: JSON.stringify(body) });

  it("answers 201 with the lead and its Location", async () => {
    const response = await post({ _id: "crm:42", name: "Grace", email: "grace@example.com", company: "Hopper" });
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/api/leads/crm%3A42");
    const body = LeadSchema.parse(await response.json());
    expect(body).toMatchObject({ _id: "crm:42", name: "Grace", current_score: 0, stage: "cold", event_count: 0 });
    const fetched = RankedLeadSchema.parse(await (await edge.read("/api/leads/crm:42")).json());
    expect(fetched).toEqual({ ...body, rank: 1, rank_of: 1 });
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

  it("stores only the profile in MongoDB, the score living in Redis", async () => {
    await post({ _id: "profile-only", name: "P", email: "p@example.com", company: "Q" });
    const stored = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "profile-only" as never });
    expect(Object.keys(stored ?? {}).sort()).toEqual(["_id", "company", "created_at", "email", "name"]);
    expect(await edge.deps.live.lead("profile-only")).toMatchObject({ name: "P", score: 0, count: 0, version: 0 });
  });

  it("attaches the profile to a lead that events created, keeping its score (200)", async () => {
    await seederFor(edge).seed([scoredLead("from-events", 480, { profile: null })]);
    const before = await edge.deps.live.lead("from-events");
    const response = await post({ _id: "from-events", name: "Eve", email: "eve@example.com", company: "Ev" });
    expect(response.status).toBe(200);
    expect(response.headers.get("location")).toBeNull();
    expect(await response.json()).toMatchObject({
      _id: "from-events",
      name: "Eve",
      company: "Ev",
      current_score: 480,
      stage: "hot",
      event_count: 1,
    });
    // The scoring worker's version is untouched: its next commit still applies.
    expect(await edge.deps.live.lead("from-events")).toMatchObject({ version: before?.version, score: 480 });
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

  it("completes a create that stopped between MongoDB and Redis when the same request comes again", async () => {
    const profile = { name: "Half", email: "half@example.com", company: "Way" };
    await edge.deps.db
      .collection(COLLECTIONS.leads)
      .insertOne({ _id: "half" as never, ...profile, created_at: new Date() });
    expect((await edge.read("/api/leads/half")).status).toBe(404);
    const response = await post({ _id: "half", ...profile });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ _id: "half", ...profile, current_score: 0 });
  });

  it("refuses another profile for such a lead but still puts the stored one in the live state", async () => {
    const stored = { name: "Kept", email: "kept@example.com", company: "Stored" };
    await edge.deps.db
      .collection(COLLECTIONS.leads)
      .insertOne({ _id: "stray" as never, ...stored, created_at: new Date() });
    const response = await post({ _id: "stray", name: "Other", email: "other@example.com", company: "Else" });
    expect(response.status).toBe(409);
    expect(await (await edge.read("/api/leads/stray")).json()).toMatchObject(stored);
  });
});

describe("when reading one lead and its history", () => {
  let edge: Edge;
  const longEvents = eventsOf(
    "long",
    Array.from({ length: 237 }, (_, i) => (i % 7 === 3 ? -40 : 8)),
    BASE,
  );
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      { id: "hist", events: historyEvents("hist", 120) },
      { id: "long", events: longEvents },
      { id: "other", events: historyEvents("other", 3) },
      profileOnlyLead("quiet"),
      scoredLead("leaderboard", 1),
    ]);
  });
  afterAll(() => edge.close());

  it("returns the lead by id, with its rank", async () => {
    const { response, body } = await getJson<LeadBody>(edge, "/api/leads/hist");
    expect(response.status).toBe(200);
    expect(RankedLeadSchema.parse(body)).toMatchObject({
      _id: "hist",
      current_score: 600,
      stage: "qualified",
      event_count: 120,
      rank: 1,
      rank_of: 5,
    });
    expect((await getJson<LeadBody>(edge, "/api/leads/quiet")).body).toMatchObject({ rank: 5, rank_of: 5 });
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
      const all = historyEvents("hist", 120).map((entry) => entry.event_id);
      expect(ids).toEqual(order === "asc" ? all : all.reverse());
    });
  }

  for (const order of ["desc", "asc"] as const) {
    it(`reads a long history across the Redis tail and the pages in MongoDB, ${order}`, async () => {
      const pages = await edge.deps.db
        .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
        .find({ lead_id: "long" })
        .toArray();
      // 237 entries: pages of 1-50, 51-100 and 101-150 in MongoDB, 151-237 in the tail.
      // `n`: the entries before each page.
      expect(pages.map((page) => page.n).sort((a, b) => a - b)).toEqual([0, 50, 100]);
      const fold = foldScores(longEvents, 1000).history;
      const want = (order === "asc" ? fold : [...fold].reverse()).map((entry) => ({
        event_id: entry.event_id,
        score: entry.score,
        delta: entry.delta,
        reason: entry.reason,
        timestamp: new Date(entry.timestamp).toISOString(),
      }));
      const got: unknown[] = [];
      let next: string | null = `/api/leads/long/history?order=${order}&limit=37`;
      let requests = 0;
      while (next !== null) {
        const { response, body } = await getJson<Record<string, unknown>[]>(edge, next);
        expect(response.headers.get("x-total-count")).toBe("237");
        got.push(
          ...body.map(({ event_id, score, delta, reason, timestamp }) => ({
            event_id,
            score,
            delta,
            reason,
            timestamp,
          })),
        );
        next = nextLink(response);
        requests += 1;
      }
      expect(requests).toBe(7);
      expect(got).toEqual(want);
    });
  }

  it("reads a page named by a commit that landed from its writer's copy in Redis until MongoDB holds it", async () => {
    const pages = edge.deps.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    const page = (await pages.findOne({ lead_id: "long", n: 50 })) as HistoryPageDocument;
    const { pendingPages } = edge.deps.live.keysFor("long");
    await edge.deps.redis.hset(pendingPages, page._id, encodePendingPage(page));
    await pages.deleteOne({ _id: page._id });
    try {
      // Entries 51-100 are that page's.
      const { response, body } = await getJson<{ event_id: string }[]>(
        edge,
        "/api/leads/long/history?order=asc&limit=100",
      );
      expect(response.status).toBe(200);
      const fold = foldScores(longEvents, 1000).history;
      expect(body.map((entry) => entry.event_id)).toEqual(fold.slice(0, 100).map((entry) => entry.event_id));
    } finally {
      await pages.insertOne(page);
      await edge.deps.redis.hdel(pendingPages, page._id);
    }
  });

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
    const seeds = Array.from({ length: 120 }, (_, i) =>
      scoredLead(`p${String(i).padStart(3, "0")}`, i * 5, { at: BASE + i }),
    );
    seeds.push(
      // Same score as p119 (595): reached it earlier, so ranks first; same time → by id.
      scoredLead("early", 595, { at: BASE - 1000 }),
      scoredLead("zz-late", 595, { at: BASE + 10_000 }),
      scoredLead("aa-late", 595, { at: BASE + 10_000 }),
      scoredLead("leaderboard", 1),
    );
    await seederFor(edge).seed(seeds);
  });
  afterAll(() => edge.close());

  const TOP = ["early", "p119", "aa-late", "zz-late", "p118", "p117", "p116", "p115", "p114", "p113"];

  it("returns the top 10 by score, ties to whoever got there first, then by id", async () => {
    const { response, body } = await getJson<LeadBody[]>(edge, "/api/leads/leaderboard");
    expect(response.status).toBe(200);
    expect(body.map((lead) => lead._id)).toEqual(TOP);
    for (const lead of body) expect(() => LeadSchema.parse(lead)).not.toThrow();
  });

  it("gives each lead its leaderboard position as rank", async () => {
    for (const [index, id] of TOP.entries()) {
      const { body } = await getJson<{ rank: number; rank_of: number }>(edge, `/api/leads/${id}`);
      expect(body).toMatchObject({ rank: index + 1, rank_of: 124 });
    }
    // p000 scored 0 and never reached a score: last.
    expect((await getJson<{ rank: number }>(edge, "/api/leads/p000")).body.rank).toBe(124);
  });

  it("returns up to 100 with limit", async () => {
    expect((await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=3")).body).toHaveLength(3);
    expect((await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=100")).body).toHaveLength(100);
  });

  it("is not read as the lead with id 'leaderboard'", async () => {
    const { body } = await getJson<LeadBody[]>(edge, "/api/leads/leaderboard?limit=1");
    expect(Array.isArray(body)).toBe(true);
  });

  it("counts the leads by stage and by score in /api/stats", async () => {
    const { response, body } = await getJson<{
      leads: number;
      by_stage: Record<string, number>;
      score_histogram: { from: number; to: number; count: number }[];
      events_24h: number;
      scored_24h: number;
      dead_letters_24h: number;
    }>(edge, "/api/stats");
    expect(response.status).toBe(200);
    const scores = [...Array.from({ length: 120 }, (_, i) => i * 5), 595, 595, 595, 1];
    expect(body.leads).toBe(124);
    expect(body.by_stage).toEqual({
      cold: scores.filter((score) => score < 100).length,
      warm: scores.filter((score) => score >= 100 && score < 300).length,
      hot: scores.filter((score) => score >= 300 && score < 600).length,
      qualified: 0,
    });
    expect(body.score_histogram).toHaveLength(11);
    expect(body.score_histogram[0]).toEqual({ from: 0, to: 99, count: 21 });
    expect(body.score_histogram.at(-1)).toEqual({ from: 1000, to: 1000, count: 0 });
    for (const bucket of body.score_histogram) {
      expect(bucket.count).toBe(scores.filter((score) => score >= bucket.from && score <= bucket.to).length);
    }
    // Seeded leads went through no edge or worker: nothing was accepted or scored here in the last day.
    expect(body.events_24h).toBe(0);
    expect(body.scored_24h).toBe(0);
    expect(body.dead_letters_24h).toBe(0);
  });
});
