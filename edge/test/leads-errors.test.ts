import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { JSON_HEADERS } from "../../test-support/ingest.ts";
import { encodeCursor } from "../src/api/cursor.ts";
import { ADMIN, nextLink, scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type ErrorBody = { error: { code: string; message: string; details: { path: string; message: string }[] } };

async function expectError(response: Response, status: number, code: string, paths: string[] = []) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.details.map((detail) => detail.path).sort()).toEqual([...paths].sort());
  return body;
}

describe("when list parameters make no sense", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([scoredLead("a", 10), scoredLead("b", 20), scoredLead("c", 30)]);
  });
  afterAll(() => edge.close());

  const cases: [string, string[]][] = [
    ["min_score=abc", ["min_score"]],
    ["min_score=-1", ["min_score"]],
    ["min_score=1.5", ["min_score"]],
    ["min_score=", ["min_score"]],
    ["max_score=1e3", ["max_score"]],
    ["min_score=500&max_score=100", ["max_score"]],
    ["stage=lukewarm", ["stage"]],
    ["stage=HOT", ["stage"]],
    ["company=", ["company"]],
    [`company=${"x".repeat(201)}`, ["company"]],
    ["q=", ["q"]],
    [`q=${"a".repeat(101)}`, ["q"]],
    ["q=a%00b", ["q"]],
    ["sort=name", ["sort"]],
    ["sort=-current_score", ["sort"]],
    ["limit=0", ["limit"]],
    ["limit=201", ["limit"]],
    ["limit=ten", ["limit"]],
    ["cursor=!!!", ["cursor"]],
    ["cursor=bm90LWpzb24", ["cursor"]],
    ["page=2", ["page"]],
    ["skip=10&offset=3", ["offset", "skip"]],
    ["stage=hot&stage=cold", ["stage"]],
    ["limit=abc&sort=x&min_score=y", ["limit", "min_score", "sort"]],
  ];
  for (const [query, paths] of cases) {
    it(`answers 400 naming ${paths.join(", ")} for ?${query.slice(0, 40)}`, async () => {
      await expectError(await edge.read(`/api/leads?${query}`), 400, "VALIDATION_FAILED", paths);
    });
  }

  it("describes each problem in a message", async () => {
    const body = await expectError(await edge.read("/api/leads?limit=500&colour=red"), 400, "VALIDATION_FAILED", [
      "colour",
      "limit",
    ]);
    expect(body.error.details).toContainEqual({ path: "colour", message: "unknown parameter" });
    expect(body.error.details).toContainEqual({ path: "limit", message: "must be at most 200" });
  });

  it("refuses a cursor issued for another sort order", async () => {
    const first = await edge.read("/api/leads?limit=1&sort=score");
    const cursor = new URL(nextLink(first) ?? "", "http://x").searchParams.get("cursor");
    expect(cursor).toBeTruthy();
    await expectError(await edge.read(`/api/leads?limit=1&sort=-score&cursor=${cursor}`), 400, "VALIDATION_FAILED", [
      "cursor",
    ]);
  });

  it("refuses a well-formed cursor with a smuggled operator or a bad id", async () => {
    const forged = [
      encodeCursor({ s: "-score", value: { $gt: 0 }, id: "a" }),
      encodeCursor({ s: "-score", value: 10, id: { $ne: "" } }),
      encodeCursor({ s: "-score", value: 10, id: "$where" }),
      encodeCursor({ s: "-score", value: 10, id: "a", extra: 1 }),
      encodeCursor({ s: "-score", value: "1e400", id: "a" }),
    ];
    for (const cursor of forged) {
      await expectError(await edge.read(`/api/leads?cursor=${cursor}`), 400, "VALIDATION_FAILED", ["cursor"]);
    }
  });
});

describe("when a lead or its history does not exist", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("answers 404 in the error shape", async () => {
    const body = await expectError(await edge.read("/api/leads/nobody"), 404, "NOT_FOUND");
    expect(body.error.message).toBe("no lead nobody");
    await expectError(await edge.read("/api/leads/nobody/history"), 404, "NOT_FOUND");
  });

  it("answers 400 for an id outside the id alphabet", async () => {
    await expectError(await edge.read("/api/leads/a%20b"), 400, "VALIDATION_FAILED", ["id"]);
    await expectError(await edge.read(`/api/leads/${"x".repeat(129)}`), 400, "VALIDATION_FAILED", ["id"]);
    await expectError(await edge.read("/api/leads/a%2Fb/history"), 400, "VALIDATION_FAILED", ["id"]);
  });

  it("answers 400 for bad history parameters", async () => {
    await seederFor(edge).seed([scoredLead("h", 5)]);
    for (const [query, path] of [
      ["order=sideways", "order"],
      ["limit=0", "limit"],
      ["limit=201", "limit"],
      ["cursor=%24%24", "cursor"],
      ["since=0", "since"],
    ] as const) {
      await expectError(await edge.read(`/api/leads/h/history?${query}`), 400, "VALIDATION_FAILED", [path]);
    }
    for (const cursor of [
      encodeCursor({ o: "asc", s: 1 }),
      encodeCursor({ o: "desc", s: -1 }),
      encodeCursor({ o: "desc", s: 1.5 }),
      encodeCursor({ o: "desc", k: "x" }),
    ]) {
      await expectError(await edge.read(`/api/leads/h/history?order=desc&cursor=${cursor}`), 400, "VALIDATION_FAILED", [
        "cursor",
      ]);
    }
  });

  it("answers 400 for bad leaderboard limits", async () => {
    for (const limit of ["0", "101", "ten", ""]) {
      await expectError(await edge.read(`/api/leads/leaderboard?limit=${limit}`), 400, "VALIDATION_FAILED", ["limit"]);
    }
    await expectError(await edge.read("/api/leads/leaderboard?top=3"), 400, "VALIDATION_FAILED", ["top"]);
  });
});

describe("when a lead body is invalid", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  const post = (body: string, headers: Record<string, string> = ADMIN) =>
    edge.app.request("/api/leads", { method: "POST", headers, body });
  const valid = { name: "N", email: "n@example.com", company: "C" };

  it("answers 400 naming each bad field", async () => {
    await expectError(await post("{}"), 400, "VALIDATION_FAILED", ["company", "email", "name"]);
    await expectError(await post(JSON.stringify({ ...valid, email: "not-an-email" })), 400, "VALIDATION_FAILED", [
      "email",
    ]);
    await expectError(await post(JSON.stringify({ ...valid, name: "  " })), 400, "VALIDATION_FAILED", ["name"]);
    await expectError(await post(JSON.stringify({ ...valid, company: 42 })), 400, "VALIDATION_FAILED", ["company"]);
    await expectError(await post(JSON.stringify({ ...valid, _id: "has space" })), 400, "VALIDATION_FAILED", ["_id"]);
    await expectError(await post(JSON.stringify({ ...valid, _id: "" })), 400, "VALIDATION_FAILED", ["_id"]);
    await expectError(await post(JSON.stringify({ ...valid, current_score: 900 })), 400, "VALIDATION_FAILED", [
      "current_score",
    ]);
  });

  it("answers 400 for a body that is not a JSON object", async () => {
    await expectError(await post("{not json"), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(await post("[]"), 400, "VALIDATION_FAILED", ["(body)"]);
    await expectError(await post(""), 400, "VALIDATION_FAILED", ["(body)"]);
  });

  it("reads the body as the ingestion routes do: the same errors for empty, non-UTF-8 and non-JSON bodies", async () => {
    const invalid = (message: string, detail: string) => ({
      error: { code: "VALIDATION_FAILED", message, details: [{ path: "(body)", message: detail }] },
    });
    const notUtf8 = new Uint8Array([...new TextEncoder().encode('{"name":"'), 0xff, ...new TextEncoder().encode('"}')]);
    const cases: [BodyInit, ReturnType<typeof invalid>][] = [
      ["", invalid("the body is empty", "is required")],
      [notUtf8, invalid("the body is not valid UTF-8", "invalid UTF-8")],
      ["{not json", invalid("the body is not valid JSON", "invalid JSON")],
    ];
    for (const [body, expected] of cases) {
      for (const path of ["/api/leads", "/api/events"]) {
        const headers = path === "/api/leads" ? ADMIN : JSON_HEADERS;
        const response = await edge.app.request(path, { method: "POST", headers, body });
        expect({ path, status: response.status, body: await response.json() }).toEqual({
          path,
          status: 400,
          body: expected,
        });
      }
    }
  });

  it("answers 415 for a body that is not JSON", async () => {
    const response = await post(JSON.stringify(valid), {
      authorization: ADMIN.authorization,
      "content-type": "text/plain",
    });
    await expectError(response, 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("answers 413 for a body over 16 KB", async () => {
    await expectError(await post(JSON.stringify({ ...valid, name: "x".repeat(20_000) })), 413, "PAYLOAD_TOO_LARGE");
  });

  it("answers 404 for methods the API does not have", async () => {
    await expectError(await edge.app.request("/api/leads/x", { method: "DELETE", headers: ADMIN }), 404, "NOT_FOUND");
  });
});
