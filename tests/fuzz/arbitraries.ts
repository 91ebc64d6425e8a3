// Hostile input for the edge: values of the wrong type, keys that mean something to JavaScript or MongoDB, deep and
// wide JSON, strings that are not what they seem, and bytes that are not UTF-8 at all.
import fc from "fast-check";

/** Keys that pollute prototypes or carry MongoDB operators and paths. */
export const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "$gt",
  "$ne",
  "$where",
  "$set",
  "$regex",
  "$expr",
  "a.b",
  "metadata.$x",
  "current_score",
  "_id",
  "",
] as const;

/** Strings chosen to break parsers, regexes, ids and queries. */
export const HOSTILE_STRINGS = [
  "",
  " ",
  "\u0000",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "😀",
  "a".repeat(129),
  "a".repeat(10_000),
  "../../etc/passwd",
  "%00",
  "%E0%A4%A",
  "%",
  "$gt",
  '{"$gt":""}',
  ".*",
  "(a+)+$",
  "1e309",
  "-0",
  "NaN",
  "2026-02-30T25:61:61Z",
  "9999999999999999999999",
  "<script>alert(1)</script>",
  "Bearer",
  "\r\nX-Injected: 1",
] as const;

export const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

export const hostileKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 }));

const scalar = fc.oneof(
  hostileString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1.5, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, 1e-320),
  fc.boolean(),
  fc.constant(null),
);

/** Any JSON value, with hostile keys at every level. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(hostileKey, tie("value"), { maxKeys: 5 }),
  ),
})).value;

const VALID = {
  event_id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/),
  lead_id: fc.constantFrom("fuzz-lead-1", "fuzz-lead-2"),
  event_type: fc.constantFrom("page_view", "purchase", "no_rule_here"),
  timestamp: fc.constantFrom(Date.now() - 60_000, new Date(Date.now() - 1000).toISOString()),
  metadata: fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.oneof(fc.string({ maxLength: 10 }), fc.integer())),
};

/** An event whose fields are each valid, hostile, or absent, with hostile extra fields now and then. */
export const eventLike: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      {
        event_id: fc.oneof(VALID.event_id, hostileJson),
        lead_id: fc.oneof(VALID.lead_id, VALID.lead_id, hostileJson),
        event_type: fc.oneof(VALID.event_type, VALID.event_type, hostileJson),
        timestamp: fc.oneof(VALID.timestamp, hostileJson),
        metadata: fc.oneof(VALID.metadata, hostileJson),
      },
      { requiredKeys: [] },
    ),
    // Extra fields only some of the time, so valid events get through often enough to reach Redis.
    fc.option(fc.dictionary(hostileKey, hostileJson, { minKeys: 1, maxKeys: 2 }), { freq: 3 }),
  )
  .map(([event, extra]) => (extra === null ? event : { ...extra, ...event }));

/**
 * An event valid in every field but one or two, where the hostility is subtle: metadata with near-miss keys and odd
 * values, timestamps at the edges of what parses. Many of these are queued, which is what the queue check needs.
 */
export const nearlyValidEvent: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    event_id: VALID.event_id,
    lead_id: VALID.lead_id,
    event_type: VALID.event_type,
    timestamp: fc.oneof(
      VALID.timestamp,
      fc.integer({ min: 0, max: Date.now() }),
      fc.constantFrom("1970-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00.123456789+05:30", "0", 0),
      hostileJson,
    ),
    metadata: fc.oneof(
      VALID.metadata,
      fc.dictionary(fc.oneof(hostileKey, fc.constantFrom("a$", "$", "a..", "__proto", "proto__")), scalar, {
        maxKeys: 3,
      }),
      fc.dictionary(fc.string({ maxLength: 6 }), hostileJson, { maxKeys: 3 }),
    ),
  },
  { requiredKeys: ["event_id", "lead_id", "event_type"] },
);

/** Raw bodies: JSON text of hostile values, JSON with operator keys spelled out, or arbitrary (often invalid) bytes. */
export const hostileBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  eventLike.map((event) => JSON.stringify(event)),
  fc.array(eventLike, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
  hostileJson.map((value) => JSON.stringify(value) ?? "null"),
  // JSON.stringify never writes these literally: a real `__proto__` key reaches JSON.parse only like this.
  fc.constantFrom(
    '{"__proto__":{"polluted":1},"lead_id":"p","event_type":"page_view"}',
    '{"lead_id":"p","event_type":"page_view","metadata":{"__proto__":{"polluted":1}}}',
    '{"events":[{"lead_id":"p","event_type":"page_view","constructor":{"prototype":{"polluted":1}}}]}',
    '{"lead_id":{"$gt":""},"event_type":"page_view"}',
    '{"lead_id":"p","event_type":"page_view","metadata":{"$where":"sleep(1000)"}}',
    '{"lead_id":"p","event_type":"page_view","metadata":{"a.b":1}}',
    '{"lead_id":"p","event_type":"page_view","lead_id":"q"}',
    '{"lead_id":"p\\ud800","event_type":"page_view"}',
  ),
  fc.uint8Array({ maxLength: 64 }),
  // Invalid UTF-8 inside otherwise valid JSON.
  fc.constantFrom(
    Uint8Array.from([0x7b, 0x22, 0x6c, 0x65, 0x61, 0x64, 0x5f, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
    Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    Uint8Array.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
  ),
);

/** Header values: hostile strings made legal for a header (no CR, LF or NUL, which fetch refuses itself). */
export const headerValue = hostileString.map((value) => value.replace(/[\r\n\0]/g, "").replace(/[^\t\x20-\xff]/g, "?"));

/** Deeply nested JSON text, built as text so building it costs no recursion. */
export function nestedJson(depth: number, open = "[", close = "]"): string {
  return open.repeat(depth) + close.repeat(depth);
}

export function nestedObjectJson(depth: number, key = "a"): string {
  return `${`{"${key}":`.repeat(depth)}1${"}".repeat(depth)}`;
}
