import { describe, expect, it } from "vitest";
import {
  addToBreakdown,
  decodeBreakdown,
  decodeSharedBreakdown,
  decodeTally,
  emptyBreakdown,
  encodeBreakdown,
  encodeTally,
  type Tally,
} from "../src/fold.ts";

const TALLY: Tally = {
  counters: {
    'lifetime r-email "metadata.email_id" "m-3"': { bucket: 0, count: 1 },
    "day r-pricing": { bucket: 20_454, count: 2 },
  },
  groups: { intent: 40, web: 0 },
};

const ENTRY = {
  candidates: [{ rule_id: "r-pricing", points: 20, group: { id: "intent", max: 100 } }],
  rules: [{ rule_id: "r-pricing", group: "intent", asked: 20, given: 20, cuts: [] }],
};

describe("when the text of a tally or breakdown was encoded or decoded before", () => {
  it("decodes a tally's text as the object it was encoded from, and a new text once", () => {
    const text = encodeTally(TALLY);
    expect(decodeTally(text)).toBe(TALLY);
    const other = JSON.stringify([[["day r-pricing", 20_455, 1]], [["intent", 60]]]);
    const decoded = decodeTally(other);
    expect(decoded).toEqual({ counters: { "day r-pricing": { bucket: 20_455, count: 1 } }, groups: { intent: 60 } });
    expect(decodeTally(other)).toBe(decoded);
    expect(encodeTally(decoded)).toBe(other);
  });

  it("shares a breakdown only where it is not changed: counting makes a new one", () => {
    const one = addToBreakdown(emptyBreakdown(), [ENTRY], 1);
    const text = encodeBreakdown(one);
    expect(decodeSharedBreakdown(text)).toBe(one);
    const two = addToBreakdown(decodeSharedBreakdown(text), [ENTRY], 1);
    expect(one.rules["r-pricing"]).toEqual({ points: 20, events: 1, group: "intent" });
    expect(two.rules["r-pricing"]).toEqual({ points: 40, events: 2, group: "intent" });
    expect(decodeSharedBreakdown(text)).toEqual(decodeBreakdown(text));
    // A caller that may change what it decodes gets its own copy.
    expect(decodeBreakdown(text)).not.toBe(decodeBreakdown(text));
  });
});
