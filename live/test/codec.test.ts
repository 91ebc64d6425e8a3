import { DEFAULT_STAGE_THRESHOLDS } from "@leadscore/contracts";
import { describe, expect, it } from "vitest";
import {
  decodeLead,
  decodeLeadHash,
  decodePageRefs,
  encodeLeadHash,
  encodePageRefs,
  LEAD_FIELDS,
  leadHashFields,
  type PageRef,
  SUMMARY_FIELDS,
  stateFields,
} from "../src/codec.ts";

const REF: PageRef = {
  id: "lead|0a1b2c3d",
  size: 50,
  firstKey: "000001700000000000|e1",
  lastEventAt: 1_700_000_900_000,
  scoreAfter: 420,
  changedAt: 1_700_000_800_000,
  receivedMin: 1_700_000_000_500,
  firstScore: 10,
  scoreMin: 5,
  scoreMax: 480,
  tally: "",
};

describe("a page ref", () => {
  it("is stored in its compact wire form, the one the page list already holds", () => {
    expect(JSON.parse(`[${encodePageRefs([REF])}]`)).toEqual([
      [
        "lead|0a1b2c3d",
        50,
        "000001700000000000|e1",
        1_700_000_900_000,
        420,
        1_700_000_800_000,
        1_700_000_000_500,
        0,
        10,
        5,
        480,
      ],
    ]);
  });

  it("reads a ref written without its lowest and highest scores as bounded by its first and last", () => {
    const old = JSON.stringify(encodePageRefs([REF]).replace(",5,480]", "]"));
    expect(decodePageRefs(`[${JSON.parse(old)}]`)).toEqual([{ ...REF, scoreMin: 10, scoreMax: 420 }]);
  });

  it("reads a ref stored with its latest received_at (no longer kept) as the same ref", () => {
    const stored = JSON.stringify(encodePageRefs([REF])).replace(",0,10,", ",1700000950000,10,");
    expect(decodePageRefs(`[${JSON.parse(stored)}]`)).toEqual([REF]);
  });

  it("reads back with every field as written, a page whose score never moved included", () => {
    const still = { ...REF, id: "lead|ffffffff", changedAt: null };
    expect(decodePageRefs(`[${encodePageRefs([REF, still])}]`)).toEqual([REF, still]);
  });

  it("reads an absent or empty page list as no pages", () => {
    expect(decodePageRefs(null)).toEqual([]);
    expect(decodePageRefs("")).toEqual([]);
  });
});

describe("a lead's hash", () => {
  const state = {
    score: 120,
    stage: "warm" as const,
    count: 3,
    lastKey: "000001700000000300|e3",
    reachedAt: 1_700_000_000_300,
    lastEventAt: 1_700_000_000_300,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_001_000,
    tail: [],
    base: { score: 0, count: 3, reachedAt: 1_700_000_000_300 },
    breakdown: {
      unmatched: 1,
      rules: new Map([["purchase", { points: 120, events: 2, group: null }]]),
      groups: new Map(),
    },
    pages: [REF],
  };

  it("is written under the short field names the Lua scripts and existing data use", () => {
    expect(encodeLeadHash({ ...stateFields(state), version: "4", name: "Ann" })).toEqual({
      s: "120",
      st: "warm",
      n: "3",
      k: "000001700000000300|e3",
      r: "1700000000300",
      le: "1700000000300",
      ca: "1700000000000",
      ua: "1700000001000",
      t: "[]",
      b: "[0,3,1700000000300]",
      ne: "",
      rx: "",
      bd: '[1,[["purchase",120,2]]]',
      pg: `[${encodePageRefs([REF])}]`,
      v: "4",
      name: "Ann",
    });
    expect(leadHashFields(SUMMARY_FIELDS)).toEqual([
      "s",
      "st",
      "n",
      "k",
      "r",
      "le",
      "v",
      "ca",
      "ua",
      "name",
      "email",
      "company",
    ]);
  });

  it("reads back, field by field, as the state that was written", () => {
    const stored = encodeLeadHash({ ...stateFields(state), version: "4", name: "Ann" });
    const read = leadHashFields(LEAD_FIELDS).map((field) => stored[field] ?? null);
    const lead = decodeLead("lead", decodeLeadHash(LEAD_FIELDS, read), 1000, DEFAULT_STAGE_THRESHOLDS);
    expect(lead).toMatchObject({ ...state, version: 4, name: "Ann", email: null, company: null });
  });

  it("reads as no lead when it has no version (no live state)", () => {
    const read = leadHashFields(SUMMARY_FIELDS).map(() => null);
    expect(decodeLead("lead", decodeLeadHash(SUMMARY_FIELDS, read), 1000, DEFAULT_STAGE_THRESHOLDS)).toBeNull();
  });
});
