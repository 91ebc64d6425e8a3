// Metadata the edge must refuse because the store would refuse it or keep it altered: raw JSON text (so escapes,
// `-0` and `1e400` reach `JSON.parse` as a client sends them), the path the edge names, and its message. One table
// for the validator's own test and for every ingestion route.
const NESTED = "must not be an array inside an array: the store cannot keep nested arrays";
const NUL = "must not contain a NUL character";
const LONE = "must not contain a lone UTF-16 surrogate (it would be stored as U+FFFD)";

export const UNSTORABLE_METADATA: readonly (readonly [json: string, path: string, message: string])[] = [
  ['{"m":[[1]]}', "metadata.m.0", NESTED],
  ['{"a":{"b":[1,[2]]}}', "metadata.a.b.1", NESTED],
  ['{"n":1e400}', "metadata.n", "must be a finite number"],
  ['{"n":[-1e400]}', "metadata.n.0", "must be a finite number"],
  ['{"n":-0}', "metadata.n", "must not be -0 (it would be stored as 0)"],
  ['{"s":"a\\u0000b"}', "metadata.s", NUL],
  ['{"a\\u0000b":1}', "metadata.a\u0000b", `key ${NUL}`],
  ['{"a":[{"toString":[{}]}]}', "metadata.a.0.toString", 'key "toString" is reserved'],
  ['{"valueOf":[{}]}', "metadata.valueOf", 'key "valueOf" is reserved'],
  ['{"s":["\\udc00"]}', "metadata.s.0", LONE],
  ['{"\\ud800x":1}', "metadata.\ud800x", `key ${LONE}`],
];
