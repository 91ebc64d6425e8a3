import { COLLECTIONS } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { LeadSchema } from "../src/routes/leads/lead.ts";
import { ADMIN, scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

describe("when searching leads by id", () => {
  let edge: Edge;
  const ids = async (query: string) =>
    ((await (await edge.read(`/api/leads?${query}`)).json()) as { _id: string }[]).map((lead) => lead._id);

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("crm-0150", 300, { profile: { name: "Dana Scully", email: "dana@fbi.gov", company: "FBI" } }),
      scoredLead("crm-0151", 200, { profile: { name: "Fox Mulder", email: "fox@fbi.gov", company: "FBI" } }),
      scoredLead("anon-7F3a", 50, { profile: null }),
      scoredLead("Anonymous.Visitor", 40, { profile: null }),
    ]);
  });
  afterAll(() => edge.close());

  it("finds a lead by its whole id", async () => {
    expect(await ids("q=crm-0150")).toEqual(["crm-0150"]);
  });

  it("finds leads by part of the id, in any case, profile or not", async () => {
    expect(await ids("q=anon")).toEqual(["anon-7F3a", "Anonymous.Visitor"]);
    expect(await ids("q=7f3A")).toEqual(["anon-7F3a"]);
    expect(await ids("q=crm-015")).toEqual(["crm-0150", "crm-0151"]);
  });

  it("matches ids literally: pattern characters find nothing", async () => {
    expect(await ids(`q=${encodeURIComponent("crm*")}`)).toEqual([]);
    expect(await ids(`q=${encodeURIComponent("[a]non")}`)).toEqual([]);
  });

  it("still searches names and emails, and combines q with company", async () => {
    expect(await ids("q=mulder")).toEqual(["crm-0151"]);
    expect(await ids("q=crm&company=fb")).toEqual(["crm-0150", "crm-0151"]);
    expect(await ids("q=anon&company=fbi")).toEqual([]);
  });
});

describe("when searching leads by words", () => {
  let edge: Edge;
  const ids = async (q: string) =>
    ((await (await edge.read(`/api/leads?q=${encodeURIComponent(q)}`)).json()) as { _id: string }[]).map(
      (lead) => lead._id,
    );

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("w-1", 300, { profile: { name: "Jürgen Müller", email: "jm@example.de", company: "Ökotech" } }),
      scoredLead("w-2", 200, { profile: { name: "Ana Silva", email: "ana@example.pt", company: "Lisboa Lda" } }),
      scoredLead("w-3", 100, { profile: { name: "Ana Souza", email: "souza@example.br", company: "Rio SA" } }),
    ]);
  });
  afterAll(() => edge.close());

  it("ignores diacritics either way", async () => {
    expect(await ids("Muller")).toEqual(["w-1"]);
    expect(await ids("müller")).toEqual(["w-1"]);
    expect(await ids("okotech")).toEqual(["w-1"]);
    expect(await ids("Ána")).toEqual(["w-2", "w-3"]);
  });

  it("matches every word, in any order, in any field", async () => {
    expect(await ids("Silva Ana")).toEqual(["w-2"]);
    expect(await ids("ana  silva")).toEqual(["w-2"]);
    expect(await ids("ana rio")).toEqual(["w-3"]);
    expect(await ids("w-1 jurgen")).toEqual(["w-1"]);
    expect(await ids("ana muller")).toEqual([]);
  });
});

describe("when an admin edits a lead's profile", () => {
  let edge: Edge;
  const patch = (id: string, body: unknown, headers: Record<string, string> = ADMIN) =>
    edge.app.request(`/api/leads/${id}`, { method: "PATCH", headers, body: JSON.stringify(body) });

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([
      scoredLead("lena", 420, { profile: { name: "Lena", email: "lena@old.example", company: "Old Co" } }),
      scoredLead("mara", 60, { profile: { name: "Mara", email: "mara@old.example", company: "Mara Old" } }),
      scoredLead("nina", 50, { profile: { name: "Nina", email: "nina@past.example", company: "Past Inc" } }),
      scoredLead("visitor-9", 10, { profile: null }),
    ]);
  });
  afterAll(() => edge.close());

  it("changes the fields given, keeps the others and the score", async () => {
    const response = await patch("lena", { company: "New Co", email: "lena@new.example" });
    expect(response.status).toBe(200);
    const lead = LeadSchema.parse(await response.json());
    expect(lead).toMatchObject({ name: "Lena", email: "lena@new.example", company: "New Co", current_score: 420 });
    const read = (await (await edge.read("/api/leads/lena")).json()) as { company: string; rank: number };
    expect(read.company).toBe("New Co");
    expect(read.rank).toBe(1);
  });

  it("appends the edit to MongoDB instead of updating the profile", async () => {
    expect((await patch("mara", { company: "Mara New" })).status).toBe(200);
    const edits = await edge.deps.db.collection(COLLECTIONS.profileEdits).find({ lead_id: "mara" }).toArray();
    expect(edits.map((edit) => edit.company)).toEqual(["Mara New"]);
    const profile = await edge.deps.db.collection(COLLECTIONS.leads).findOne({ _id: "mara" as never });
    expect(profile?.company).toBe("Mara Old");
  });

  it("is found by its new values only", async () => {
    expect((await patch("nina", { company: "Future Inc", email: "nina@future.example" })).status).toBe(200);
    const ids = async (query: string) =>
      ((await (await edge.read(`/api/leads?${query}`)).json()) as { _id: string }[]).map((lead) => lead._id);
    expect(await ids("company=future")).toEqual(["nina"]);
    expect(await ids("company=past")).toEqual([]);
    expect(await ids("q=past.example")).toEqual([]);
  });

  it("gives a profile to a lead that events created", async () => {
    const response = await patch("visitor-9", { name: "Now Known" });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ name: "Now Known", email: null, company: null, current_score: 10 });
  });

  it("needs the admin token, an existing lead and a valid field", async () => {
    const read = { authorization: "Bearer test-read-token", "content-type": "application/json" };
    expect((await patch("lena", { name: "X" }, read)).status).toBe(403);
    expect((await patch("nobody", { name: "X" })).status).toBe(404);
    const invalid = await patch("lena", { email: "not-an-email" });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe("email");
    expect((await patch("lena", {})).status).toBe(400);
    expect((await patch("lena", { score: 1000 })).status).toBe(400);
  });
});

describe("when leads are exported as CSV", () => {
  let edge: Edge;
  const csv = async (query = "") => {
    const response = await edge.read(`/api/leads/export.csv${query}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
    return (await response.text()).split("\r\n").filter((line) => line !== "");
  };

  beforeAll(async () => {
    edge = await createTestEdge();
    const many = Array.from({ length: 450 }, (_, i) =>
      scoredLead(`bulk-${String(i).padStart(3, "0")}`, (i * 7) % 900, { profile: { company: "Bulk" } }),
    );
    await seederFor(edge).seed([
      ...many,
      scoredLead("quoted", 950, { profile: { name: 'Ann "The Closer", Jr.', email: "ann@x.io", company: "=SUM(A1)" } }),
    ]);
  });
  afterAll(() => edge.close());

  it("starts with a header row and has every lead in the list's order, across pages", async () => {
    const lines = await csv();
    expect(lines[0]).toBe(
      "_id,name,email,company,current_score,stage,event_count,last_event_at,score_reached_at,created_at,updated_at",
    );
    expect(lines).toHaveLength(452);
    const ids: string[] = [];
    let next: string | null = "/api/leads?limit=200";
    while (next) {
      const response = await edge.read(next);
      ids.push(...((await response.json()) as { _id: string }[]).map((lead) => lead._id));
      next = response.headers.get("link")?.match(/^<([^>]+)>/)?.[1] ?? null;
    }
    expect(lines.slice(1).map((line) => line.split(",")[0])).toEqual(ids);
  });

  it("takes the list's filters", async () => {
    const lines = await csv("?stage=qualified&sort=score");
    expect(lines.slice(1).map((line) => line.split(",")[0])).toEqual(
      ((await (await edge.read("/api/leads?stage=qualified&sort=score&limit=200")).json()) as { _id: string }[]).map(
        (lead) => lead._id,
      ),
    );
    expect((await csv("?q=quoted")).slice(1)).toHaveLength(1);
  });

  it("quotes commas and quotes, and keeps a formula from running", async () => {
    const [row] = (await csv("?q=quoted")).slice(1);
    expect(row).toMatch(/^quoted,"Ann ""The Closer"", Jr\.",ann@x\.io,'=SUM\(A1\),950,qualified,1,/);
  });

  it("refuses invalid filters and readers without a token", async () => {
    expect((await edge.read("/api/leads/export.csv?min_score=abc")).status).toBe(400);
    expect((await edge.app.request("/api/leads/export.csv")).status).toBe(401);
  });
});

describe("when one event of a lead is opened", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([scoredLead("opened", 100)]);
    const at = new Date("2026-01-01T00:00:00.000Z");
    await edge.deps.db.collection(COLLECTIONS.events).insertOne({
      _id: "opened-e0000",
      lead_id: "opened",
      event_type: "purchase",
      timestamp: at,
      received_at: at,
      metadata: { plan: "pro", seats: 12 },
      points: 100,
      rule_id: "purchase",
      sort_key: "x",
    } as never);
  });
  afterAll(() => edge.close());

  it("shows its metadata", async () => {
    const response = await edge.read("/api/leads/opened/events/opened-e0000");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ event_type: "purchase", metadata: { plan: "pro", seats: 12 } });
  });

  it("is not found under another lead or by an unknown id", async () => {
    expect((await edge.read("/api/leads/other/events/opened-e0000")).status).toBe(404);
    expect((await edge.read("/api/leads/opened/events/nope")).status).toBe(404);
  });
});
