import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns } from "../../test-support/property.ts";
import { compileGlob, type StepCounter } from "../src/index.ts";

/** The textbook dynamic programme (quadratic, obviously right): the oracle the linear matcher is held to. */
function reference(pattern: string, input: string): boolean {
  let row = Array.from({ length: input.length + 1 }, (_, j) => j === 0);
  for (const p of pattern) {
    const next = [p === "*" && (row[0] as boolean)];
    for (let j = 1; j <= input.length; j++) {
      next[j] =
        p === "*"
          ? (row[j] as boolean) || (next[j - 1] as boolean)
          : (row[j - 1] as boolean) && (p === "?" || p === input[j - 1]);
    }
    row = next;
  }
  return row[input.length] as boolean;
}

describe("a glob pattern", () => {
  it.each([
    ["/pricing*", "/pricing", true],
    ["/pricing*", "/pricing/enterprise?ref=ad", true],
    ["/pricing*", "/blog/pricing", false],
    ["*/pricing", "https://example.com/pricing", true],
    ["/docs/*/install", "/docs/v2/install", true],
    ["/docs/*/install", "/docs/install", false],
    ["/p?ge", "/page", true],
    ["/p?ge", "/pge", false],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["*", "", true],
    ["", "", true],
    ["", "x", false],
    ["*.pdf", "/files/report.pdf", true],
    ["*.pdf", "/files/reportXpdf", false],
    ["(a+)+*", "(a+)+$", true],
    ["*[x]*", "a[x]b", true],
  ])("%j against %j is %s", (pattern, input, expected) => {
    expect(compileGlob(pattern)(input)).toBe(expected);
    expect(reference(pattern, input)).toBe(expected);
  });

  it("matches case-insensitively when asked to", () => {
    expect(compileGlob("/Pricing/*")("/PRICING/Team")).toBe(false);
    expect(compileGlob("/Pricing/*", { caseInsensitive: true })("/PRICING/Team")).toBe(true);
  });

  it("agrees with the reference matcher on any pattern and input", () => {
    const text = (chars: string[], max: number) => fc.array(fc.constantFrom(...chars), { maxLength: max });
    fc.assert(
      fc.property(text(["a", "b", "*", "?"], 12), text(["a", "b"], 16), (pattern, input) => {
        const p = pattern.join("");
        const s = input.join("");
        expect(compileGlob(p)(s)).toBe(reference(p, s));
      }),
      propertyRuns(2000),
    );
  });

  it("agrees on segments longer than one 32-bit state word", () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 70 }), fc.nat(80), fc.boolean(), (length, pad, hit) => {
        // Only a hit holds a "c", the segment's last character.
        const segment = `${Array.from({ length }, (_, i) => (i % 7 === 3 ? "?" : "ab"[i % 2])).join("")}c`;
        const body = `${segment.slice(0, -1).replaceAll("?", "b")}${hit ? "c" : "d"}`;
        const input = `${"a".repeat(pad)}${body}${"b".repeat(pad)}`;
        expect(compileGlob(`*${segment}*`)(input)).toBe(reference(`*${segment}*`, input));
        expect(compileGlob(`*${segment}*`)(input)).toBe(hit);
      }),
      propertyRuns(200),
    );
  });
});

describe("when a pattern is built to make a backtracking matcher quadratic", () => {
  /** Steps the matcher takes on `input`, counted by the matcher itself. */
  const stepsFor = (pattern: string, input: string) => {
    const counter: StepCounter = { steps: 0 };
    const matched = compileGlob(pattern, { counter })(input);
    return { matched, steps: counter.steps };
  };
  // Many stars before a segment that almost matches everywhere, and a long segment with `?` (eight state words).
  const patterns = [`${"a*".repeat(40)}b`, `*${"a".repeat(100)}?${"a".repeat(150)}b*`, `*${"?a".repeat(120)}c*`];

  it.each(patterns)("takes steps linear in the input's length: %s", (pattern) => {
    const words = Math.ceil(pattern.length / 32);
    const sizes = [2_000, 4_000, 8_000, 16_000];
    const runs = sizes.map((n) => stepsFor(pattern, "a".repeat(n)));
    expect(runs.every((run) => !run.matched)).toBe(true);
    runs.forEach((run, i) => {
      // At most one step per state word per input character, plus the fixed segments.
      expect(run.steps).toBeLessThanOrEqual((sizes[i] as number) * words + pattern.length);
    });
    // Doubling the input at most doubles the work (a quadratic matcher would quadruple it).
    for (let i = 1; i < runs.length; i++) {
      expect((runs[i] as { steps: number }).steps / (runs[i - 1] as { steps: number }).steps).toBeLessThan(2.1);
    }
  });
});
