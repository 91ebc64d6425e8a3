// The edge refuses what the store would refuse or alter, so what it accepts must come back exactly: hostile metadata
// (NUL and lone surrogates in keys and strings, -0, Infinity, NaN, nested arrays, reserved keys) through
// `normalizeEvent`, and every event it accepts through the queue's JSON and an insert into the real store, read back
// and compared with what the client sent.
import { COLLECTIONS, normalizeEvent, STORE_LIMITS } from "@leadscore/contracts";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { UNSTORABLE_METADATA } from "../../test-support/unstorable.ts";
import { hostileJson, hostileKey, hostileString } from "./arbitraries.ts";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const NOW = Date.parse("2026-03-01T00:00:00Z");

let testDb: Awaited<ReturnType<typeof createTestDb>>;

beforeAll(async () => {
  testDb = await createTestDb();
});

afterAll(async () => {
  await testDb?.drop();
});

/**
 * Any UTF-16 code units, the ones a store trips on (NUL, surrogate halves, control characters) often enough to
 * turn up in keys as well as values in every run, and pairs that make up characters beyond the BMP.
 */
const codeUnits = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
    fc.constantFrom("\u0000", "\ud800", "\udfff", "\u0001", "\u007f", "\u009f", "\ufffe", "😀"),
  ),
  maxLength: 8,
});
const key = fc.oneof(
  { arbitrary: fc.stringMatching(/^[a-z]{1,6}$/), weight: 3 },
  { arbitrary: codeUnits, weight: 2 },
  { arbitrary: hostileKey, weight: 1 },
);
const leaf = fc.oneof(
  hostileString,
  codeUnits,
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 5e-324, Number.MAX_VALUE),
  // What JSON text like `-0` and `1e400` parses to; its own arm, so every run meets it.
  fc.constantFrom(-0, Infinity, -Infinity, Number.NaN),
  fc.boolean(),
  fc.constant(null),
);
const value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(key, tie("value"), { maxKeys: 4 }),
  ),
})).value;
/**
 * The value as `JSON.parse` would build it: plain objects (fast-check may make null-prototype ones) with own keys,
 * `__proto__` included, and numbers as they are (JSON text may hold `-0` and `1e400`, which parse to -0 and Infinity).
 */
function asParsed(input: unknown): unknown {
  if (Array.isArray(input)) return input.map(asParsed);
  if (input === null || typeof input !== "object") return input;
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(input)) {
    Object.defineProperty(out, name, {
      value: asParsed((input as Record<string, unknown>)[name]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const metadata = fc
  .oneof(fc.dictionary(key, value, { maxKeys: 5 }), fc.dictionary(key, hostileJson, { maxKeys: 3 }))
  .map(asParsed);

describe("what the edge accepts, the store keeps exactly", () => {
  it("round-trips every accepted event's metadata through the queue's JSON and the store", async () => {
    const events = testDb.db.collection<{ _id: string; metadata: Record<string, unknown> }>(COLLECTIONS.events);
    const outcomes = { accepted: 0, refused: new Map<string, number>() };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(metadata, async (sent) => {
        const id = `rt-${n++}`;
        const result = normalizeEvent(
          { event_id: id, lead_id: "l", event_type: "page_view", metadata: sent },
          NOW,
          () => id,
        );
        if (!result.ok) {
          const message = result.details[0]?.message ?? "";
          outcomes.refused.set(message, (outcomes.refused.get(message) ?? 0) + 1);
          return;
        }
        outcomes.accepted += 1;
        // The queue carries events as JSON (Bull), then the worker inserts them.
        const queued = JSON.parse(JSON.stringify(result.event));
        await events.insertOne({ _id: id, metadata: queued.metadata });
        const stored = await events.findOne({ _id: id });
        expect(stored?.metadata).toStrictEqual(sent);
      }),
      { numRuns: RUNS },
    );
    // The property only says something if both sides were exercised, each refusal rule among them.
    expect(outcomes.accepted).toBeGreaterThan(RUNS / 10);
    const reasons = [...outcomes.refused.keys()].join("\n");
    for (const rule of [/NUL/, /lone UTF-16 surrogate/, /finite number/, /nested arrays/, /is reserved|may not/]) {
      expect(reasons).toMatch(rule);
    }
  });

  it("refuses each value the store would refuse or alter, naming its path", () => {
    for (const [json, path, message] of UNSTORABLE_METADATA) {
      const result = normalizeEvent(
        { lead_id: "l", event_type: "page_view", metadata: JSON.parse(json) },
        NOW,
        () => "x",
      );
      expect(result).toEqual({ ok: false, details: [{ path, message }] });
    }
  });

  it("keeps a surrogate pair, a NUL-free control character and a nested array when the store keeps them", () => {
    const sent = { emoji: "😀", tab: "a\tb", m: [[1]] };
    const result = normalizeEvent({ lead_id: "l", event_type: "page_view", metadata: sent }, NOW, () => "x", {
      ...STORE_LIMITS,
      nestedArrays: true,
    });
    expect(result.ok && result.event.metadata).toEqual(sent);
  });
});
