import { COLLECTIONS, type DeadLetterDocument } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";

let edge: Awaited<ReturnType<typeof createTestEdge>>;
const ADMIN = { headers: { authorization: "Bearer test-admin-token" } };

const letter = (id: string, atMs: number): DeadLetterDocument => ({
  _id: id,
  lead_id: `lead-${id}`,
  event_type: "page_view",
  reason: 'invalid value: { "m": [ [ 1 ] ] } (nested arrays are not supported)',
  event: JSON.stringify({ event_id: id, lead_id: `lead-${id}`, event_type: "page_view", metadata: { m: [[1]] } }),
  at: new Date(atMs),
});

beforeAll(async () => {
  edge = await createTestEdge();
  const at = Date.parse("2026-03-01T00:00:00Z");
  await edge.deps.db
    .collection<DeadLetterDocument>(COLLECTIONS.deadLetters)
    .insertMany([letter("d-1", at), letter("d-2", at + 1000), letter("d-3", at + 1000), letter("d-4", at + 2000)]);
});

afterAll(() => edge?.close());

describe("GET /api/dead-letters", () => {
  it("lists the events the store refused, newest first, with the reason and the event as queued", async () => {
    const response = await edge.app.request("/api/dead-letters", ADMIN);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-total-count")).toBe("4");
    expect(response.headers.get("link")).toBeNull();
    const body = (await response.json()) as { event_id: string }[];
    expect(body.map((item) => item.event_id)).toEqual(["d-4", "d-3", "d-2", "d-1"]);
    expect(body[0]).toEqual({
      event_id: "d-4",
      lead_id: "lead-d-4",
      event_type: "page_view",
      reason: 'invalid value: { "m": [ [ 1 ] ] } (nested arrays are not supported)',
      at: "2026-03-01T00:00:02.000Z",
      event: { event_id: "d-4", lead_id: "lead-d-4", event_type: "page_view", metadata: { m: [[1]] } },
    });
  });

  it("pages by the Link header without skipping or repeating letters that share a time", async () => {
    const seen: string[] = [];
    let path: string | null = "/api/dead-letters?limit=2";
    while (path !== null) {
      const response: Response = await edge.app.request(path, ADMIN);
      expect(response.status).toBe(200);
      seen.push(...((await response.json()) as { event_id: string }[]).map((item) => item.event_id));
      path = response.headers.get("link")?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
    }
    expect(seen).toEqual(["d-4", "d-3", "d-2", "d-1"]);
  });

  it("needs the admin token: a read token is forbidden, none is unauthorized", async () => {
    expect((await edge.read("/api/dead-letters")).status).toBe(403);
    expect((await edge.app.request("/api/dead-letters")).status).toBe(401);
  });

  it("refuses a limit out of range in the error shape", async () => {
    const response = await edge.app.request("/api/dead-letters?limit=500", ADMIN);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        code: "VALIDATION_FAILED",
        message: expect.any(String),
        details: [{ path: "limit", message: "must be at most 200" }],
      },
    });
  });
});
