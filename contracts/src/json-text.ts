// A string as a JSON string literal, remembered: the names a lead's tally and breakdown spell (limit counters, rules,
// groups) are few and come back on every commit of every lead, and `JSON.stringify` made each anew every time.

/** Most strings remembered; past that the cache starts again (a limit's key values are as many as the data's). */
export const JSON_STRING_CACHE_SIZE = 10_000;

let remembered = new Map<string, string>();

/** `JSON.stringify(text)`, the same text, from a bounded cache. */
export function jsonString(text: string): string {
  let json = remembered.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    if (remembered.size >= JSON_STRING_CACHE_SIZE) remembered = new Map();
    remembered.set(text, json);
  }
  return json;
}
