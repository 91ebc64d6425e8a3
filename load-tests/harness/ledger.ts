// What was sent and what the edge answered, per event id: the ground the audit stands on.
import type { EventKind } from "../src/payloads.ts";
import type { EventOutcome } from "../src/requests.ts";

const INVALID = 1;
const ACCEPTED = 2;
const ACCEPTED_TWICE = 4;
const DUPLICATE = 8;
const REJECTED = 16;
const ERROR = 32;
const DELIVERED = 64;
const FLAG_SPAN = 128;

const OUTCOME_FLAGS: Record<EventOutcome, number> = {
  accepted: ACCEPTED,
  duplicate: DUPLICATE,
  rejected: REJECTED,
  error: ERROR,
  delivered: DELIVERED,
};

/**
 * What the audit may expect of an event id: `present` (the edge took it: 202, accepted in a batch, or a 2xx from
 * pixel/beacon for a valid event), `absent` (refused by contract, or only ever answered 400), `unknown` (only
 * ever failed — no answer, 429, 5xx — or only ever answered "duplicate": the edge may or may not hold it).
 */
export type Expectation = "present" | "absent" | "unknown";

export interface LedgerEntry {
  eventId: string;
  leadRank: number;
  expectation: Expectation;
  acceptedTwice: boolean;
  answeredDuplicate: boolean;
}

export interface Ledger {
  record(eventId: string, leadRank: number, kind: EventKind, outcome: EventOutcome): void;
  readonly size: number;
  get(eventId: string): LedgerEntry | undefined;
  entries(): IterableIterator<LedgerEntry>;
}

function expectationOf(flags: number): Expectation {
  if (flags & INVALID) return "absent";
  if (flags & (ACCEPTED | DELIVERED)) return "present";
  if (flags === REJECTED) return "absent";
  return "unknown";
}

function entryOf(eventId: string, packed: number): LedgerEntry {
  const flags = packed % FLAG_SPAN;
  return {
    eventId,
    leadRank: Math.floor(packed / FLAG_SPAN),
    expectation: expectationOf(flags),
    acceptedTwice: (flags & ACCEPTED_TWICE) !== 0,
    answeredDuplicate: (flags & DUPLICATE) !== 0,
  };
}

export function createLedger(): Ledger {
  // One number per id (lead rank × 128 + outcome flags) keeps a million-event run to tens of megabytes.
  const ids = new Map<string, number>();
  return {
    record(eventId, leadRank, kind, outcome) {
      const previous = ids.get(eventId);
      let flags = previous === undefined ? 0 : previous % FLAG_SPAN;
      if (kind === "invalid") flags |= INVALID;
      if (outcome === "accepted" && flags & ACCEPTED) flags |= ACCEPTED_TWICE;
      flags |= OUTCOME_FLAGS[outcome];
      ids.set(eventId, leadRank * FLAG_SPAN + flags);
    },
    get size() {
      return ids.size;
    },
    get(eventId) {
      const packed = ids.get(eventId);
      return packed === undefined ? undefined : entryOf(eventId, packed);
    },
    *entries() {
      for (const [eventId, packed] of ids) yield entryOf(eventId, packed);
    },
  };
}
