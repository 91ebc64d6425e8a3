import { describe, expect, it } from "vitest";
import {
  type Candidate,
  decodeCandidate,
  type EventDocument,
  encodeCandidate,
  storedCandidates,
  toScorable,
} from "../src/index.ts";

const T0 = Date.parse("2026-03-02T09:00:00Z");

function document(fields: Partial<EventDocument>): EventDocument {
  return {
    _id: "e1",
    lead_id: "lead-1",
    event_type: "page_view",
    timestamp: new Date(T0),
    received_at: new Date(T0 + 5),
    metadata: {},
    points: 0,
    rule_id: null,
    sort_key: "k",
    ...fields,
  };
}

const limited: Candidate[] = [
  { rule_id: "base", points: 1, limit: { max: 10, per: "day" }, group: { id: "web", max: 200 } },
  { rule_id: "open", points: 5, limit: { max: 1, per: "lifetime", field: "metadata.email_id", key: "m-4" } },
  { rule_id: "no-key", points: 3, limit: { max: 2, per: "week", field: "metadata.email_id" } },
  { rule_id: "grouped", points: -2, group: { id: "email", max: 60 } },
];

describe("an event's candidates in the events collection", () => {
  it("reads back every shape of candidate from its wire form", () => {
    for (const candidate of limited) expect(decodeCandidate(encodeCandidate(candidate))).toEqual(candidate);
  });

  it("stores nothing when the v1 fields say them all, and reads them back from those", () => {
    const one: Candidate[] = [{ rule_id: "purchase", points: 100 }];
    expect(storedCandidates({ rule_id: "purchase", points: 100 }, one)).toBeUndefined();
    expect(storedCandidates({ rule_id: null, points: 0 }, [])).toBeUndefined();
    const scored = toScorable(document({ points: 100, rule_id: "purchase", rules_version: 3 }));
    expect(scored).toMatchObject({ points: 100, rule_id: "purchase", candidates: one, rules_version: 3 });
    const unmatched = toScorable(document({ rules_version: 3 }));
    expect(unmatched).toMatchObject({ candidates: [], rules_version: 3 });
  });

  it("stores the others as one text of wire forms, read back as they were", () => {
    const stored = storedCandidates({ rule_id: "base", points: 7 }, limited);
    expect(typeof stored).toBe("string");
    expect(JSON.parse(stored as string)).toEqual(limited.map(encodeCandidate));
    const scored = toScorable(document({ points: 7, rule_id: "base", candidates: stored, rules_version: 4 }));
    expect(scored.candidates).toEqual(limited);
    expect(scored.rules_version).toBe(4);
  });

  it("still reads candidates stored as objects, and an event stored before v2 as its one rule", () => {
    const scored = toScorable(document({ points: 7, rule_id: "base", candidates: limited, rules_version: 2 }));
    expect(scored.candidates).toEqual(limited);
    const v1 = toScorable(document({ points: 5, rule_id: "page_view" }));
    expect(v1.candidates).toBeUndefined();
    expect(v1.rules_version).toBeUndefined();
  });
});
