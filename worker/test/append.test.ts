import { DEFAULT_STAGE_THRESHOLDS, foldScores, type HistoryEntry, type ScorableEvent } from "@leadscore/contracts";
import {
  appendToArray,
  decodeLead,
  LEAD_FIELDS,
  type LeadHash,
  type LeadHashField,
  type LiveLead,
  PLAN_FIELDS,
  withTail,
} from "@leadscore/live";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns } from "../../test-support/property.ts";
import { planLead } from "../src/plan.ts";
import { liveFields } from "../src/scorer.ts";

const CAP = 1000;
const AT = 1_800_000_000_000;

/** The lead's hash as an HMGET of `fields` reads it. */
const fieldsOf = (hash: LeadHash, fields: readonly LeadHashField[]): LeadHash =>
  Object.fromEntries(fields.map((field) => [field, hash[field] ?? null]));

/** A lead as the scorer reads it: HMGET of PLAN_FIELDS, without the tail. */
const read = (hash: LeadHash): LiveLead | null =>
  decodeLead("lead", fieldsOf(hash, PLAN_FIELDS), CAP, DEFAULT_STAGE_THRESHOLDS);

/** A lead with every field, its tail too. */
const readWhole = (hash: LeadHash): LiveLead | null =>
  decodeLead("lead", fieldsOf(hash, LEAD_FIELDS), CAP, DEFAULT_STAGE_THRESHOLDS);

/** The same lead without what an append needs, so the planner decodes and folds the whole tail. */
const withoutStored = (lead: LiveLead | null): LiveLead | null => (lead ? { ...lead, stored: undefined } : null);

/**
 * Plans a round as the scorer does (reading the tail only when the planner asks for it) and applies what it
 * commits to the hash, as the commit script does.
 */
function round(
  hash: LeadHash,
  read: LiveLead | null,
  batch: ScorableEvent[],
  pageId: () => string,
): { hash: LeadHash; appended: boolean; diverted: boolean } {
  let lead = read;
  let plan = planLead(lead, batch, [], CAP, pageId);
  if (plan.kind === "needTail" && lead) {
    lead = withTail(lead, fieldsOf(hash, PLAN_FIELDS), hash.tail ?? null, CAP, DEFAULT_STAGE_THRESHOLDS);
    plan = planLead(lead, batch, [], CAP, pageId);
  }
  if (plan.kind !== "commit") return { hash, appended: false, diverted: plan.kind === "divert" };
  const { fields, appendTail, appendPages } = liveFields(plan.next, lead, AT, DEFAULT_STAGE_THRESHOLDS);
  const next: LeadHash = { ...hash, ...fields, version: String(Number(hash.version ?? "0") + 1) };
  if (appendTail !== undefined) next.tail = appendToArray(hash.tail ?? "", appendTail);
  if (appendPages !== undefined) next.pages = appendToArray(hash.pages ?? "", appendPages);
  return { hash: next, appended: appendTail !== undefined, diverted: false };
}

// Rounds that mostly move on in time (appends), some that reach back (late events, events received before
// ones already in the tail): both paths, and the switches between them.
const batches = fc.array(
  fc.record({
    moveOn: fc.boolean(),
    events: fc.array(
      fc.record({
        ahead: fc.integer({ min: -3_000, max: 5_000 }),
        points: fc.integer({ min: -60, max: 120 }),
        receivedLag: fc.integer({ min: -2_000, max: 2_000 }),
      }),
      { minLength: 1, maxLength: 40 },
    ),
  }),
  { minLength: 1, maxLength: 12 },
);

const entryOf = (entry: HistoryEntry) => ({
  event_id: entry.event_id,
  timestamp: entry.timestamp,
  points: entry.points,
  delta: entry.delta,
  score: entry.score,
  seq: entry.seq,
  score_reached_at: entry.score_reached_at,
});

describe("when a round only appends to a lead's tail", () => {
  it("writes exactly the fields a fold of the whole decoded tail writes, and the state foldScores gives", () => {
    let appends = 0;
    fc.assert(
      fc.property(batches, (rounds) => {
        let fast: LeadHash = {};
        let full: LeadHash = {};
        let clock = 1_000_000;
        let sequence = 0;
        let fastPages = 0;
        let fullPages = 0;
        const sent: ScorableEvent[] = [];
        for (const spec of rounds) {
          if (spec.moveOn) clock += 10_000;
          const batch = spec.events.map(({ ahead, points, receivedLag }) => {
            clock += 1;
            sequence += 1;
            const timestamp = clock + ahead;
            return {
              event_id: `e${sequence}`,
              lead_id: "lead",
              event_type: "page_view",
              timestamp,
              received_at: clock + 10_000 + receivedLag,
              points,
              rule_id: "r",
            };
          });
          const a = round(fast, read(fast), batch, () => `p${++fastPages}`);
          const before = withoutStored(readWhole(full));
          const b = round(full, before, batch, () => `p${++fullPages}`);
          if (a.diverted || b.diverted) return;
          // A new lead has no tail to decode: both take the append.
          if (before !== null) expect(b.appended).toBe(false);
          if (a.appended) appends += 1;
          fast = a.hash;
          full = b.hash;
          expect(fast).toEqual(full);
          // And both are the pure fold of every event so far: its state, and its newest entries as the tail.
          sent.push(...batch);
          const expected = foldScores(sent, CAP);
          const lead = readWhole(fast) as LiveLead;
          expect({ score: lead.score, count: lead.count, reachedAt: lead.reachedAt }).toEqual({
            score: expected.score,
            count: expected.count,
            reachedAt: expected.reachedAt,
          });
          expect(lead.lastKey).toBe(expected.history.at(-1)?.sort_key);
          expect(lead.tail.map(entryOf)).toEqual(expected.history.slice(lead.base.count).map(entryOf));
        }
      }),
      propertyRuns(300),
    );
    // The property says something only if appends happened.
    expect(appends).toBeGreaterThan(100);
  });

  it("decodes the tail only when it is read", () => {
    const first = round({}, null, [event("a", 1_000), event("b", 2_000)], () => "p");
    const lead = read(first.hash) as LiveLead;
    // A new lead's first commit writes every field.
    expect(first.appended).toBe(false);
    expect(() => lead.tail).toThrow(/without its tail/);
    // Nor does a round read the page list, which grows with the lead's history: spilled pages are spliced in.
    expect(() => lead.pages).toThrow(/without its pages/);
    const next = round(first.hash, lead, [event("c", 3_000)], () => "p");
    expect(next.appended).toBe(true);
    expect(JSON.parse(next.hash.tail as string).map((entry: unknown[]) => entry[0])).toEqual(["a", "b", "c"]);
  });
});

function event(id: string, timestamp: number): ScorableEvent {
  return {
    event_id: id,
    lead_id: "lead",
    event_type: "page_view",
    timestamp,
    received_at: timestamp,
    points: 10,
    rule_id: "r",
  };
}
