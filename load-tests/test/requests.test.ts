import { describe, expect, it } from "vitest";
import type { PlannedEvent } from "../src/payloads.ts";
import { buildRequest, expectedStatuses, interpretResponse } from "../src/requests.ts";

const fresh = (id: string): PlannedEvent => ({
  event: { event_id: id, lead_id: "lead-1", event_type: "page_view", timestamp: 1_700_000_000_000 },
  kind: "fresh",
  leadRank: 1,
});
const invalid: PlannedEvent = { ...fresh("bad"), kind: "invalid" };

describe("when a pixel request is built", () => {
  it("puts the event and the key in the query string", () => {
    const request = buildRequest("pixel", [fresh("e 1")], "k&y");
    expect(request.method).toBe("GET");
    const url = new URL(`http://edge${request.path}`);
    expect(url.pathname).toBe("/p.gif");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      lead_id: "lead-1",
      event_type: "page_view",
      event_id: "e 1",
      ts: "1700000000000",
      key: "k&y",
    });
  });
});

describe("when a beacon request is built", () => {
  it("sends text/plain with the key in the query, one event or an events envelope", () => {
    const one = buildRequest("beacon", [fresh("a")], "key");
    expect(one.headers["content-type"]).toMatch(/^text\/plain/);
    expect(one.path).toBe("/beacon?key=key");
    expect(JSON.parse(one.body ?? "")).toMatchObject({ event_id: "a" });
    const two = buildRequest("beacon", [fresh("a"), fresh("b")], "key");
    expect(JSON.parse(two.body ?? "").events).toHaveLength(2);
  });
});

describe("when the edge answers a single event", () => {
  const request = buildRequest("event", [fresh("a")], "key");

  it("reads 202 as accepted and 200 duplicate as a duplicate", () => {
    expect(interpretResponse(request, 202, '{"success":true,"event_id":"a","duplicate":false}')).toEqual({
      outcomes: ["accepted"],
      conforms: true,
    });
    const duplicate = interpretResponse(request, 200, '{"success":true,"event_id":"a","duplicate":true}');
    expect(duplicate.outcomes).toEqual(["duplicate"]);
    // A fresh id can never be a duplicate of anything.
    expect(duplicate.conforms).toBe(false);
  });

  it("counts a 5xx, a 429 or no answer as an error outside the contract", () => {
    for (const status of [0, 429, 500, 503]) {
      expect(interpretResponse(request, status, null)).toEqual({ outcomes: ["error"], conforms: false });
    }
  });

  it("expects 400 for an event the contract refuses", () => {
    const refused = buildRequest("event", [invalid], "key");
    expect(expectedStatuses(refused)).toEqual([400]);
    expect(interpretResponse(refused, 400, '{"error":{}}')).toEqual({ outcomes: ["rejected"], conforms: true });
    expect(interpretResponse(refused, 202, '{"duplicate":false}').conforms).toBe(false);
  });
});

describe("when the edge answers a batch", () => {
  it("maps every result to its event by index", () => {
    const request = buildRequest("batch", [fresh("a"), { ...fresh("b"), kind: "duplicate" }, invalid], "key");
    const body = JSON.stringify({
      accepted: 1,
      duplicates: 1,
      rejected: 1,
      results: [
        { index: 2, event_id: "bad", status: "rejected", error: "timestamp" },
        { index: 0, event_id: "a", status: "accepted" },
        { index: 1, event_id: "b", status: "duplicate" },
      ],
    });
    expect(interpretResponse(request, 202, body)).toEqual({
      outcomes: ["accepted", "duplicate", "rejected"],
      conforms: true,
    });
  });

  it("treats a missing result as an error", () => {
    const request = buildRequest("batch", [fresh("a"), fresh("b")], "key");
    const body = JSON.stringify({ results: [{ index: 0, event_id: "a", status: "accepted" }] });
    expect(interpretResponse(request, 202, body)).toEqual({ outcomes: ["accepted", "error"], conforms: false });
  });
});
