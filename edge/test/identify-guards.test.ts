import { DEFAULT_PLACEHOLDER_IDS, isPlaceholderId, resolveRoots } from "@leadscore/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually } from "../../test-support/index.ts";
import { checkIds, judgeMerge, type MergeState } from "../src/identity/merges.ts";

const ANONYMOUS: MergeState = {
  fromRoot: null,
  intoRoot: "ada",
  fromIsTarget: false,
  fromHasProfile: false,
  fromExists: true,
  intoExists: true,
};

describe("the ids of a merge", () => {
  it.each([
    ["null", "a JSON null", null],
    ["null", "the text null", "null"],
    ["undefined", "an unset variable", "undefined"],
    ["anonymous", "a default", " Anonymous "],
    ["0", "zero", "0"],
    ["-1", "minus one", "-1"],
    ["[object Object]", "an object stringified", "[object Object]"],
    ["", "empty", ""],
    ["whitespace", "blanks", "   "],
    ["a number", "not a string", 42],
  ])("refuses %s (%s) as a placeholder", (_name, _why, id) => {
    expect(isPlaceholderId(id)).toBe(true);
    const verdict = checkIds("anonymous_id", "anon-1", "lead_id", id, DEFAULT_PLACEHOLDER_IDS);
    expect(verdict).toMatchObject({ kind: "refused", error: { code: "VALIDATION_FAILED" } });
    if (verdict?.kind !== "refused") throw new Error("not refused");
    expect(verdict.error.details).toEqual([{ path: "lead_id", message: "is a placeholder, not an identity" }]);
  });

  it("takes a configured list instead of the defaults", () => {
    expect(isPlaceholderId("guest-0", ["guest-0"])).toBe(true);
    expect(isPlaceholderId("null", ["guest-0"])).toBe(false);
  });

  it("refuses an id outside the lead id alphabet, and the same id twice", () => {
    const bad = checkIds("anonymous_id", "anon 1", "lead_id", "ada", DEFAULT_PLACEHOLDER_IDS);
    expect(bad?.kind === "refused" && bad.error.details[0]?.path).toBe("anonymous_id");
    const same = checkIds("anonymous_id", "ada", "lead_id", "ada", DEFAULT_PLACEHOLDER_IDS);
    expect(same?.kind === "refused" && same.error.message).toBe("lead_id must differ from anonymous_id");
    expect(checkIds("anonymous_id", "anon-1", "lead_id", "ada", DEFAULT_PLACEHOLDER_IDS)).toBeNull();
  });
});

describe("the guards of a merge", () => {
  const cases: [string, "identify" | "admin", Partial<MergeState>, string, string?][] = [
    ["merges an anonymous id with the write key", "identify", {}, "merge"],
    ["answers an id already merged into the same root as done", "identify", { fromRoot: "ada" }, "already"],
    [
      "refuses an id merged into another lead",
      "identify",
      { fromRoot: "bob" },
      "CONFLICT",
      "anon-1 was already merged into bob",
    ],
    [
      "refuses an identified lead (the target of merges) with the write key",
      "identify",
      { fromIsTarget: true },
      "CONFLICT",
      "anon-1 is an identified lead (others were merged into it); merging it takes the admin token",
    ],
    [
      "refuses a lead with a profile with the write key",
      "identify",
      { fromHasProfile: true },
      "CONFLICT",
      "anon-1 has a profile: it is a known lead; merging it takes the admin token",
    ],
    [
      "refuses a merge whose target resolves to the merged id",
      "identify",
      { intoRoot: "anon-1" },
      "CONFLICT",
      "the lead resolves to anon-1: the merge would loop",
    ],
    [
      "merges a known lead with a profile, and merged into, with the admin token",
      "admin",
      { fromIsTarget: true, fromHasProfile: true },
      "merge",
    ],
    [
      "refuses an admin merge of a lead that does not exist",
      "admin",
      { fromExists: false },
      "NOT_FOUND",
      "no lead anon-1",
    ],
    [
      "refuses an admin merge into a lead that does not exist",
      "admin",
      { intoExists: false },
      "NOT_FOUND",
      "no lead ada",
    ],
  ];
  it.each(cases)("%s", (_title, kind, state, outcome, message) => {
    const verdict = judgeMerge(kind, "anon-1", { ...ANONYMOUS, ...state });
    if (verdict.kind === "refused") {
      expect([verdict.error.code, verdict.error.message]).toEqual([outcome, message]);
    } else {
      expect(verdict.kind).toBe(outcome);
    }
  });
});

describe("resolving recorded merges", () => {
  it("follows chains to their root and ignores a merge that would loop", () => {
    const roots = resolveRoots([
      { from: "anon-1", into: "ada" },
      { from: "anon-2", into: "anon-1" },
      { from: "ada", into: "bob" },
      { from: "bob", into: "anon-2" },
    ]);
    expect(Object.fromEntries(roots)).toEqual({ "anon-1": "bob", "anon-2": "bob", ada: "bob" });
  });
});

describe("POST /api/identify against the live state", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>> | undefined;
  afterEach(async () => edge?.close());
  const identify = (body: unknown) =>
    edge?.app.request("/api/identify", {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": "test-write-key" },
      body: JSON.stringify(body),
    }) as Promise<Response>;

  it("refuses an id with a profile (409) and queues nothing, and queues an anonymous one (202)", async () => {
    edge = await createTestEdge();
    await edge.ready();
    const created = await edge.app.request("/api/leads", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer test-admin-token" },
      body: JSON.stringify({ _id: "carol", name: "Carol", email: "carol@example.com", company: "Acme" }),
    });
    expect(created.status).toBe(201);
    const known = await identify({ anonymous_id: "carol", lead_id: "dave" });
    expect(known.status).toBe(409);
    expect(((await known.json()) as { error: { message: string } }).error.message).toBe(
      "carol has a profile: it is a known lead; merging it takes the admin token",
    );
    expect(await edge.queue.count()).toBe(0);
    expect((await identify({ anonymous_id: "anon-9", lead_id: "carol" })).status).toBe(202);
    const [job] = await edge.queue.getWaiting();
    expect(job?.data).toMatchObject({
      v: 1,
      events: [],
      merges: [{ from: "anon-9", into: "carol", kind: "identify" }],
    });
    // Without the write key: 401.
    const anonymous = await edge.app.request("/api/identify", { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
  });

  it("takes the admin merge only with the admin token, with a reason", async () => {
    edge = await createTestEdge();
    await edge.ready();
    const merge = (token: string, body: unknown) =>
      edge?.app.request("/api/leads/erin/merge", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }) as Promise<Response>;
    expect((await merge("test-read-token", { from: "frank", reason: "same person" })).status).toBe(403);
    expect((await merge("test-admin-token", { from: "frank" })).status).toBe(400);
    // Neither lead exists yet.
    expect((await merge("test-admin-token", { from: "frank", reason: "same person" })).status).toBe(404);
  });
});

describe("an identify riding a pixel hit or a beacon body", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>> | undefined;
  afterEach(async () => edge?.close());
  /** What the hits queued: each job's merges and its events' lead ids and types. */
  const queued = async () =>
    (await (edge as NonNullable<typeof edge>).queue.getWaiting())
      .map((job) => job.data as { merges?: { from: string; into: string; kind: string }[]; events: unknown[] })
      .map((data) => ({
        merges: (data.merges ?? []).map(({ from, into, kind }) => ({ from, into, kind })),
        events: (data.events as { lead_id: string; event_type: string }[]).map((e) => `${e.lead_id}:${e.event_type}`),
      }));

  it("queues the merge from a pixel's anonymous_id and lead_id, then the hit's event for lead_id", async () => {
    edge = await createTestEdge();
    await edge.ready();
    const hit = new URLSearchParams({
      key: "test-write-key",
      anonymous_id: "anon-px",
      lead_id: "pat",
      event_type: "form_submission",
    });
    const response = await edge.app.request(`/p.gif?${hit}`);
    expect([response.status, response.headers.get("content-type")]).toEqual([200, "image/gif"]);
    expect(await eventually(async () => ((await queued()).length === 2 ? queued() : null))).toEqual(
      expect.arrayContaining([
        { merges: [{ from: "anon-px", into: "pat", kind: "identify" }], events: [] },
        { merges: [], events: ["pat:form_submission"] },
      ]),
    );
    // A refused identify (a placeholder) still answers the GIF and queues no merge.
    const refused = new URLSearchParams({ key: "test-write-key", anonymous_id: "anon-px2", lead_id: "undefined" });
    expect((await edge.app.request(`/p.gif?${refused}`)).status).toBe(200);
    expect((await queued()).flatMap((job) => job.merges)).toHaveLength(1);
  });

  it("queues the merge from a beacon body's identify, with the body's events, and answers a refusal", async () => {
    edge = await createTestEdge();
    await edge.ready();
    const beacon = (body: unknown) =>
      (edge as NonNullable<typeof edge>).app.request("/beacon?key=test-write-key", {
        method: "POST",
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body: JSON.stringify(body),
      });
    const body = {
      identify: { anonymous_id: "anon-bc", lead_id: "quin" },
      events: [{ lead_id: "quin", event_type: "page_exit" }],
    };
    expect((await beacon(body)).status).toBe(204);
    expect(await eventually(async () => ((await queued()).length === 2 ? queued() : null))).toEqual(
      expect.arrayContaining([
        { merges: [{ from: "anon-bc", into: "quin", kind: "identify" }], events: [] },
        { merges: [], events: ["quin:page_exit"] },
      ]),
    );
    const refused = await beacon({ identify: { anonymous_id: "anon-bc2", lead_id: "null" } });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: "VALIDATION_FAILED" } });
    expect((await queued()).flatMap((job) => job.merges)).toHaveLength(1);
  });
});
