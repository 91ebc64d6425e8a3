import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JSON_STRING_CACHE_SIZE, jsonString } from "../src/json-text.ts";

describe("jsonString", () => {
  it("gives JSON.stringify's text for any string, the first time and every time after", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(jsonString(text)).toBe(JSON.stringify(text));
        expect(jsonString(text)).toBe(JSON.stringify(text));
      }),
    );
  });

  it("still gives the right text once more strings than it remembers went through it", () => {
    const texts = Array.from({ length: JSON_STRING_CACHE_SIZE + 10 }, (_, i) => `lifetime r "metadata.id" "${i}"`);
    for (const text of texts) jsonString(text);
    for (const text of [texts[0] as string, texts.at(-1) as string, 'quote " and \\ and \u2028']) {
      expect(jsonString(text)).toBe(JSON.stringify(text));
    }
  });
});
