import { describe, expect, it } from "vitest";
import { decodePageRefs, encodePageRefs, type PageRef } from "../src/codec.ts";

const REF: PageRef = {
  id: "lead|0a1b2c3d",
  size: 50,
  firstKey: "000001700000000000|e1",
  lastEventAt: 1_700_000_900_000,
  scoreAfter: 420,
  changedAt: 1_700_000_800_000,
  receivedMin: 1_700_000_000_500,
  receivedMax: 1_700_000_950_000,
  firstScore: 10,
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
        1_700_000_950_000,
        10,
      ],
    ]);
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
