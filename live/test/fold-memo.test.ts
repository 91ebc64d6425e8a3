import { describe, expect, it } from "vitest";
import { tallyFields } from "../src/codec.ts";
import {
  addToBreakdown,
  decodeBreakdown,
  decodeSharedBreakdown,
  decodeTally,
  emptyBreakdown,
  encodeBreakdown,
  encodeTally,
  foldLive,
  type Tally,
} from "../src/fold.ts";

const TALLY: Tally = {
  counters: new Map([
    ["day r-pricing", { bucket: 20_454, count: 2 }],
    ['lifetime r-email "metadata.email_id" "m-3"', { bucket: 0, count: 1 }],
  ]),
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
    expect(decoded).toEqual({
      counters: new Map([["day r-pricing", { bucket: 20_455, count: 1 }]]),
      groups: { intent: 60 },
    });
    expect(decodeTally(other)).toBe(decoded);
    expect(encodeTally(decoded)).toBe(other);
  });

  it("tells apart texts that differ only in characters a memo does not sample", () => {
    // Long tallies of one length, each the first with one count changed: a lookup samples some characters, so most
    // of them agree with the first on all it reads, and each must still decode as its own.
    const tallyOf = (changed: number): string =>
      JSON.stringify([
        Array.from({ length: 200 }, (_, i) => [`day r-${i}`, 20_454, i === changed ? 2 : 1]),
        [["intent", 40]],
      ]);
    const texts = Array.from({ length: 201 }, (_, changed) => tallyOf(changed - 1));
    const decoded = texts.map((text) => decodeTally(` ${text}`.slice(1)));
    texts.forEach((text, index) => {
      const [counters, groups] = JSON.parse(text) as [[string, number, number][], [string, number][]];
      expect(decoded[index]).toEqual({
        counters: new Map(counters.map(([name, bucket, count]) => [name, { bucket, count }])),
        groups: Object.fromEntries(groups),
      });
      expect(encodeTally(decoded[index])).toBe(text);
      expect(decodeTally(` ${text}`.slice(1))).toBe(decoded[index]);
    });
    expect(new Set(decoded).size).toBe(texts.length);
  });

  it("shares a breakdown only where it is not changed: counting makes a new one", () => {
    const one = addToBreakdown(emptyBreakdown(), [ENTRY], 1);
    const text = encodeBreakdown(one);
    expect(decodeSharedBreakdown(text)).toBe(one);
    const two = addToBreakdown(decodeSharedBreakdown(text), [ENTRY], 1);
    expect(one.rules.get("r-pricing")).toEqual({ points: 20, events: 1, group: "intent" });
    expect(two.rules.get("r-pricing")).toEqual({ points: 40, events: 2, group: "intent" });
    expect(decodeSharedBreakdown(text)).toEqual(decodeBreakdown(text));
    // A caller that may change what it decodes gets its own copy.
    expect(decodeBreakdown(text)).not.toBe(decodeBreakdown(text));
  });

  it("writes each breakdown's own counts where a count shares the tallies of the rules it did not touch", () => {
    const other = {
      candidates: [{ rule_id: "r-blog", points: 2 }],
      rules: [{ rule_id: "r-blog", group: null, asked: 2, given: 2, cuts: [] }],
    };
    const one = addToBreakdown(emptyBreakdown(), [ENTRY, other], 1);
    const first = encodeBreakdown(one);
    const two = addToBreakdown(one, [ENTRY], 1);
    expect(two.rules.get("r-blog")).toBe(one.rules.get("r-blog"));
    const second = encodeBreakdown(two);
    expect(second).toBe('[0,[["r-blog",2,1],["r-pricing",40,2,"intent"]],[["intent",40,2,100]]]');
    expect(decodeBreakdown(second)).toEqual(two);
    const back = addToBreakdown(two, [ENTRY], -1);
    expect(encodeBreakdown(back)).toBe(first);
    expect(encodeBreakdown(one)).toBe(first);
  });
});

describe("when a rule or group id is __proto__", () => {
  it("keeps counting it as its own in each copy of the breakdown", () => {
    const entry = {
      candidates: [{ rule_id: "__proto__", points: 5, group: { id: "__proto__", max: 100 } }],
      rules: [{ rule_id: "__proto__", group: "__proto__", asked: 5, given: 5, cuts: [] }],
    };
    const once = addToBreakdown(emptyBreakdown(), [entry], 1);
    const twice = addToBreakdown(addToBreakdown(once, [ENTRY], 1), [entry], 1);
    expect(twice.rules.get("__proto__")).toEqual({ points: 10, events: 2, group: "__proto__" });
    expect(twice.groups.get("__proto__")).toEqual({ points: 10, events: 2, max: 100 });
    expect([...twice.rules.keys()]).toEqual(["__proto__", "r-pricing"]);
    expect(decodeBreakdown(encodeBreakdown(twice))).toEqual(twice);
  });
});

describe("when an append changes no counter and no group total", () => {
  const limited = { rule_id: "r-pricing", points: 20, limit: { max: 1, per: "lifetime" as const } };
  const view = (id: string, timestamp: number) => ({
    event_id: id,
    lead_id: "l",
    event_type: "page_view",
    timestamp,
    received_at: timestamp,
    points: 20,
    rule_id: "r-pricing",
    candidates: [limited],
    rules_version: 1,
  });

  it("keeps the tally it started from, which the commit then leaves as stored", () => {
    const first = foldLive([view("a", 1)], 1000, { score: 0, count: 0, reachedAt: null }).state;
    const stored = decodeTally(encodeTally(first.tally));
    const next = foldLive([view("b", 2)], 1000, { ...first, tally: stored }).state;
    expect(next.tally).toBe(stored);
    const breakdown = emptyBreakdown();
    expect(tallyFields({ tally: next.tally, breakdown }, stored)).toEqual({ breakdown: "" });
    // A tally that moved is written, and so is one read from elsewhere.
    const moved = foldLive([view("c", 3)], 1000, { score: 0, count: 0, reachedAt: null }).state;
    expect(tallyFields({ tally: moved.tally, breakdown }, stored).tally).toBe(encodeTally(moved.tally));
    expect(tallyFields({ tally: next.tally, breakdown }).tally).toBe(encodeTally(stored));
  });
});
