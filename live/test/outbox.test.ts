// The outbox is spelled twice, for TypeScript (src/outbox.ts) and for the scripts (src/lua/includes/outbox.lua): the
// two must name the same fields in the same order and give each kind of message the same letter.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  decodeOutboxMessage,
  encodeOutboxMessage,
  OUTBOX_FIELDS,
  OUTBOX_KIND_LETTERS,
  type OutboxMessage,
} from "../src/outbox.ts";

const include = readFileSync(new URL("../src/lua/includes/outbox.lua", import.meta.url), "utf8");

/** The body of `local NAME = { … }` in the include. */
function table(name: string): string {
  const found = new RegExp(`^local ${name} = \\{(.*)\\}$`, "m").exec(include);
  if (!found?.[1]) throw new Error(`outbox.lua has no one-line table ${name}`);
  return found[1];
}

describe("the outbox's two spellings", () => {
  it("name the same message fields, in the same order", () => {
    const fields = [...table("OUTBOX_FIELDS").matchAll(/'([^']+)'/g)].map((match) => match[1]);
    expect(fields).toEqual([...OUTBOX_FIELDS]);
  });

  it("give each kind of message the same letter", () => {
    const letters = Object.fromEntries(
      [...table("OUTBOX_KIND_LETTERS").matchAll(/\['([^']+)'\] = '([^']+)'/g)].map((match) => [match[1], match[2]]),
    );
    expect(letters).toEqual(OUTBOX_KIND_LETTERS);
    expect(new Set(Object.values(letters)).size).toBe(Object.keys(letters).length);
  });
});

describe("an outbox message", () => {
  const message: OutboxMessage = {
    type: "lead.stage_changed",
    lead: "ada",
    from: "warm",
    to: "hot",
    score: "320",
    prev: "250",
    event: "e-9",
    etype: "demo_request",
    at: "1700000000000",
    rank: "4",
  };

  it("is written in field order and read back by name", () => {
    const flat = encodeOutboxMessage(message);
    expect(flat.slice(0, 4)).toEqual(["type", "lead.stage_changed", "lead", "ada"]);
    expect(decodeOutboxMessage(flat)).toEqual(message);
  });

  it("reads a field the entry lacks as empty, and ignores one it does not know", () => {
    const read = decodeOutboxMessage(["type", "lead.score_changed", "lead", "bo", "extra", "x"]);
    expect(Object.keys(read)).toEqual([...OUTBOX_FIELDS]);
    expect(read).toMatchObject({ type: "lead.score_changed", lead: "bo" });
    expect(OUTBOX_FIELDS.slice(2).map((field) => read[field])).toEqual(Array(8).fill(""));
  });
});
