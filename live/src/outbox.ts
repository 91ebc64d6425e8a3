// The webhook outbox's messages: a commit (and a profile write that creates a lead) appends one to the outbox stream
// (`outboxKeys`) per change some active subscription wants, in the same atomic step as the change; the dispatcher fans
// them out. Spelled here for TypeScript and in `lua/includes/outbox.lua` for the scripts; a unit test checks that
// the two agree.

/** Every field of a message, in the order a message is written. */
export const OUTBOX_FIELDS = ["type", "lead", "from", "to", "score", "prev", "event", "etype", "at", "rank"] as const;
export type OutboxField = (typeof OUTBOX_FIELDS)[number];

/** The letter of each kind of message in the `wants` key (the kinds some active subscription wants). */
export const OUTBOX_KIND_LETTERS = {
  "lead.created": "c",
  "lead.stage_changed": "s",
  "lead.score_changed": "x",
  "lead.merged": "m",
} as const;
export type OutboxKind = keyof typeof OUTBOX_KIND_LETTERS;

/**
 * One message as the stream holds it: `type` (an OutboxKind), `lead` (its id), `from`/`to` (stages; `from` is ""
 * for `lead.created`), `score` and `prev` (its score after and before), `event`/`etype` (the id and type of the
 * event behind it, "" when none), `at` (epoch ms of the change) and `rank` (1-based leaderboard position after it).
 * A `lead.merged` message names the lead merged into (`lead`), the merged id (`from`), and the former's score after
 * (`score`) and before (`prev`) the merge.
 */
export type OutboxMessage = Record<OutboxField, string>;

/** A stream entry's flat `[field, value, …]` as a message; a field it lacks reads "". */
export function decodeOutboxMessage(flat: readonly string[]): OutboxMessage {
  const message = Object.fromEntries(OUTBOX_FIELDS.map((field) => [field, ""])) as OutboxMessage;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as OutboxField;
    if ((OUTBOX_FIELDS as readonly string[]).includes(field)) message[field] = flat[i + 1] as string;
  }
  return message;
}

/** A message as the flat `[field, value, …]` XADD takes, in OUTBOX_FIELDS order. */
export function encodeOutboxMessage(message: OutboxMessage): string[] {
  return OUTBOX_FIELDS.flatMap((field) => [field, message[field]]);
}

/** The folder of live's Lua includes, mapped as `<live>` by scripts of other packages (`--- @include "<live>/outbox"`). */
export const LIVE_LUA_INCLUDES = new URL("./lua/includes/", import.meta.url);
