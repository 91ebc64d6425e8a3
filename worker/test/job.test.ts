import { MAX_METADATA_BYTES } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import { PermanentJobError, parseEventsJob } from "../src/job.ts";

const EVENT = {
  event_id: "evt-1",
  lead_id: "lead-1",
  event_type: "page_view",
  timestamp: 1_700_000_000_000,
  received_at: 1_700_000_000_001,
};

const problemOf = (event: unknown) => parseEventsJob({ v: 1, events: [event] }).rejected[0]?.problem;

let nested: unknown = 1;
for (let depth = 0; depth < 18; depth += 1) nested = { a: nested };

describe("reading a queued job", () => {
  it("scores a well-formed event, its missing metadata read as empty and unknown fields dropped", () => {
    const parsed = parseEventsJob({ v: 1, events: [{ ...EVENT, extra: true }] });
    expect(parsed).toEqual({ events: [{ ...EVENT, metadata: {} }], merges: [], rejected: [] });
  });

  it("reads the merges a job carries, and refuses a job whose merges are malformed", () => {
    const merge = { from: "anon-1", into: "ada", kind: "identify", at: 1_700_000_000_000 };
    expect(parseEventsJob({ v: 1, events: [], merges: [merge] }).merges).toEqual([merge]);
    expect(() => parseEventsJob({ v: 1, events: [], merges: [{ ...merge, from: "" }] })).toThrow(PermanentJobError);
  });

  it("keeps metadata as sent", () => {
    const metadata = { page: "/pricing", tags: ["a", { b: null }], n: 1.5 };
    expect(parseEventsJob({ v: 1, events: [{ ...EVENT, metadata }] }).events[0]?.metadata).toEqual(metadata);
  });

  it.each([
    ["null", null],
    ["an array", [EVENT]],
    ["a string", "evt-1"],
  ])("refuses an event that is %s", (_, event) => {
    expect(problemOf(event)).toBe("is not an object");
  });

  it.each([
    ["event_id", { ...EVENT, event_id: undefined }],
    ["event_id", { ...EVENT, event_id: "has space" }],
    ["event_id", { ...EVENT, event_id: "x".repeat(129) }],
    ["lead_id", { ...EVENT, lead_id: "" }],
    ["lead_id", { ...EVENT, lead_id: 7 }],
    ["event_type", { ...EVENT, event_type: "Page_View" }],
    ["event_type", { ...EVENT, event_type: "x".repeat(65) }],
    ["timestamp", { ...EVENT, timestamp: "1700000000000" }],
    ["timestamp", { ...EVENT, timestamp: 1.5 }],
    ["timestamp", { ...EVENT, timestamp: -1 }],
    ["timestamp", { ...EVENT, timestamp: 2 ** 53 }],
    ["received_at", { ...EVENT, received_at: undefined }],
    ["metadata", { ...EVENT, metadata: null }],
    ["metadata", { ...EVENT, metadata: [1] }],
    ["metadata", { ...EVENT, metadata: "x" }],
    ["metadata", { ...EVENT, metadata: { big: "x".repeat(MAX_METADATA_BYTES) } }],
    ["metadata.$set", { ...EVENT, metadata: { $set: 1 } }],
    ["metadata.a.b", { ...EVENT, metadata: { a: { "b.c": 1 } } }],
    ["metadata.__proto__", { ...EVENT, metadata: JSON.parse('{"__proto__": {"x": 1}}') }],
    ["metadata.a", { ...EVENT, metadata: nested }],
  ])("refuses an event whose %s is malformed", (field, event) => {
    expect(problemOf(event)?.startsWith(`${field}`)).toBe(true);
    expect(problemOf(event)).toMatch(/ is malformed: /);
  });

  it("scores the well-formed events of a job and names the malformed ones by index", () => {
    const parsed = parseEventsJob({ v: 1, events: [EVENT, { ...EVENT, event_id: "" }, { ...EVENT, event_id: "e-3" }] });
    expect(parsed.events.map((event) => event.event_id)).toEqual(["evt-1", "e-3"]);
    expect(parsed.rejected.map(({ index }) => index)).toEqual([1]);
  });

  it.each([
    ["not an object", "events"],
    ["of another version", { v: 2, events: [EVENT] }],
    ["without an event list", { v: 1, events: EVENT }],
  ])("fails for good a job that is %s", (_, data) => {
    expect(() => parseEventsJob(data)).toThrow(PermanentJobError);
  });
});
