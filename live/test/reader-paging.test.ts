// Property: paging the live state's indexes while leads move. Each page is exactly the leads after the cursor's
// (value, id) in the index as it is when the page is read, so a lead that does not move is listed exactly once.
import { DEFAULT_STAGE_THRESHOLDS, STAGES, type Stage, stageFor } from "@leadscore/contracts";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { encodeLeadHash, rankKey, stageRange } from "../src/codec.ts";
import { createLiveReader, LEAD_SORTS, type LeadSort, type ListPosition, type ListQuery } from "../src/reader.ts";

const CAP = 1000;

interface Lead {
  id: string;
  score: number;
  reached: number;
  updated: number;
  /** Its newest event's time (latest activity). */
  last: number;
}

// Few distinct values, so many leads tie; ids of mixed case and punctuation, whose bytewise order is not a locale's.
const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,6}$/);
const scoreArb = fc.constantFrom(0, 5, 100, 350, 350, 700);
const timeArb = fc.integer({ min: 0, max: 3 }).map((n) => 1_700_000_000_000 + n * 1000);
const leadArb = fc.record({ id: idArb, score: scoreArb, reached: timeArb, updated: timeArb, last: timeArb });
const moveArb = fc.record({
  pick: fc.nat(),
  cursorLead: fc.boolean(),
  score: scoreArb,
  reached: timeArb,
  updated: timeArb,
  last: timeArb,
});
const filterArb = fc.constantFrom<Pick<ListQuery, "minScore" | "maxScore" | "stage">>(
  {},
  { stage: "hot" },
  { stage: "cold" },
  { minScore: 5 },
  { maxScore: 350 },
  { minScore: 100, maxScore: 700 },
);
const sortArb = fc.constantFrom<LeadSort>(...LEAD_SORTS);

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe("paging the live state's indexes while leads move", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(() => redis.quit());

  it("lists exactly the leads after the cursor, and every lead that did not move exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(leadArb, { minLength: 0, maxLength: 40, selector: (lead) => lead.id }),
        sortArb,
        filterArb,
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.array(moveArb, { maxLength: 3 }), { minLength: 1, maxLength: 20 }),
        async (initial, sort, filter, limit, plan) => {
          const prefix = uniqueName("paging");
          const reader = createLiveReader({
            redis,
            redisPrefix: prefix,
            cap: CAP,
            thresholds: DEFAULT_STAGE_THRESHOLDS,
          });
          const { keys } = reader;
          const leads = new Map<string, Lead>();
          const written = new Set<string>();

          /** Writes a lead's index entries and summary as a commit would (absolute values). */
          async function put(lead: Lead) {
            const old = leads.get(lead.id);
            const pipeline = redis.multi();
            if (old) {
              pipeline.zrem(keys.byUpdatedIn(stageFor(old.score)), lead.id);
              pipeline.zrem(keys.byLastEventIn(stageFor(old.score)), lead.id);
            }
            const stage = stageFor(lead.score);
            pipeline.hset(
              keys.lead(lead.id),
              encodeLeadHash({
                version: "1",
                score: String(lead.score),
                stage,
                updatedAt: String(lead.updated),
                count: "1",
              }),
            );
            pipeline.zadd(keys.byScore, rankKey(lead.score, lead.reached, CAP), lead.id);
            pipeline.zadd(keys.byUpdated, lead.updated, lead.id);
            pipeline.zadd(keys.byUpdatedIn(stage), lead.updated, lead.id);
            pipeline.zadd(keys.byLastEvent, lead.last, lead.id);
            pipeline.zadd(keys.byLastEventIn(stage), lead.last, lead.id);
            await pipeline.exec();
            leads.set(lead.id, lead);
            written.add(keys.lead(lead.id));
          }

          const value = (lead: Lead) =>
            sort === "-score" || sort === "score"
              ? rankKey(lead.score, lead.reached, CAP)
              : sort === "-updated_at" || sort === "updated_at"
                ? lead.updated
                : lead.last;
          const [min, max] = [filter.minScore ?? 0, filter.maxScore ?? CAP];
          const [stageMin, stageMax] = filter.stage
            ? stageRange(filter.stage as Stage, DEFAULT_STAGE_THRESHOLDS, CAP)
            : [0, CAP];
          const selected = (lead: Lead) =>
            lead.score >= Math.max(min, stageMin) && lead.score <= Math.min(max, stageMax);
          // The sort's order: its index's values ascending (rank keys ascending are scores descending), ties by id
          // bytewise; the other two sorts are the exact reverse.
          const up = sort === "-score" || sort === "updated_at" || sort === "last_event_at";
          const compare = (a: ListPosition, b: ListPosition) => {
            const order = a.value - b.value || byteOrder(a.id, b.id);
            return up ? order : -order;
          };
          /** The page the index holds now: the selected leads strictly after `after`, in order. */
          const expectedPage = (after: ListPosition | null) =>
            [...leads.values()]
              .filter(selected)
              .map((lead) => ({ id: lead.id, value: value(lead) }))
              .filter((position) => after === null || compare(position, after) > 0)
              .sort(compare)
              .slice(0, limit)
              .map((position) => position.id);

          try {
            for (const lead of initial) await put(lead);
            const moves = new Map<string, number>();
            const seen = new Map<string, number>();
            let after: ListPosition | null = null;
            for (let page = 0; ; page++) {
              const want = expectedPage(after);
              const got = await reader.list({ ...filter, sort, limit, after });
              expect(got.leads.map((lead) => lead.id)).toEqual(want);
              expect(got.total).toBe([...leads.values()].filter(selected).length);
              for (const lead of got.leads) seen.set(lead.id, (seen.get(lead.id) ?? 0) + 1);
              if (got.next === null) break;
              expect(page).toBeLessThan(200);
              after = got.next;
              // Leads move between pages, the one the cursor names among them now and then.
              const ids = [...leads.keys()];
              for (const move of plan[page % plan.length] ?? []) {
                const id = move.cursorLead ? after.id : (ids[move.pick % ids.length] as string);
                await put({ id, score: move.score, reached: move.reached, updated: move.updated, last: move.last });
                moves.set(id, (moves.get(id) ?? 0) + 1);
              }
            }
            for (const lead of leads.values()) {
              if (!moves.has(lead.id) && selected(lead)) expect(seen.get(lead.id), lead.id).toBe(1);
            }
          } finally {
            const doomed = [
              ...written,
              keys.byScore,
              keys.byUpdated,
              ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
              keys.byLastEvent,
              ...STAGES.map((stage) => keys.byLastEventIn(stage)),
            ];
            await redis.del(...doomed);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
