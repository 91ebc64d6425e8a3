// Every read answers the same before and after leads go idle (live/src/idle.ts), with decay off and on: lists with
// every filter, sort and cursor, their X-Total-Count, searches, exports, each lead's detail and rank, the leaderboard
// and the stats. An idle lead is out of the global activity indexes, which the stage ones give merged; its next
// event gives it back its entries there.
import { STAGES } from "@leadscore/contracts";
import { IDLE_MARK, liveKeys, shrinkIdleLeads } from "@leadscore/live";
import { writeScoringSettings } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { REDIS_URL } from "../../test-support/index.ts";
import { auditAll, createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";

const HOUR = 3_600_000;
const TYPES = ["page_view", "email_open", "form_submission", "demo_request", "purchase", "big", "unsubscribe"];
const LEADS = Array.from({ length: 36 }, (_, i) => `lead-${String(i).padStart(2, "0")}`);
/** The leads that go idle: committed before the cutoff; the others are committed after it. */
const IDLE = LEADS.filter((_, i) => i % 3 !== 0);
/** The idle lead an event reaches again (the others stay idle, whichever test runs first). */
const REVIVED = IDLE[0] as string;

const SORTS = ["-score", "score", "-updated_at", "updated_at", "-last_event_at", "last_event_at"];
const FILTERS = [
  "",
  ...STAGES.map((stage) => `stage=${stage}`),
  "min_score=40",
  "min_score=20&max_score=400",
  "q=lead-1",
];

/** Every page of `path`, following its cursors, with each page's ids, scores and total. */
async function walk(edge: Awaited<ReturnType<typeof createDecayEdge>>, path: string) {
  const pages: { leads: unknown[]; total: string | null }[] = [];
  for (let next: string | null = path; next !== null && pages.length < 100; ) {
    const response = await edge.read(next);
    expect(response.status, next).toBe(200);
    pages.push({ leads: (await response.json()) as unknown[], total: response.headers.get("x-total-count") });
    next =
      response.headers
        .get("link")
        ?.match(/<([^>]+)>;\s*rel="next"/)?.[1]
        ?.replace(/^https?:\/\/[^/]+/, "") ?? null;
  }
  return pages;
}

/** What every read answers, at the edge's pinned instant. */
async function answers(edge: Awaited<ReturnType<typeof createDecayEdge>>) {
  const lists: Record<string, unknown> = {};
  for (const sort of SORTS) {
    for (const filter of FILTERS) {
      const path = `/api/leads?sort=${sort}&limit=4${filter ? `&${filter}` : ""}`;
      lists[path] = await walk(edge, path);
    }
  }
  const text = async (path: string) => (await edge.read(path)).text();
  const json = async (path: string) => (await edge.read(path)).json();
  return {
    lists,
    exports: await Promise.all(
      ["/api/leads/export.csv?sort=-updated_at", "/api/leads/export.csv?sort=last_event_at&stage=cold"].map(text),
    ),
    details: await Promise.all(LEADS.map((lead) => json(`/api/leads/${lead}`))),
    leaderboard: await json("/api/leads/leaderboard?limit=10"),
    stats: await json("/api/stats"),
  };
}

describe.each([
  ["off", null],
  ["on", 30 * 86_400],
])("when leads go idle with decay %s", (_, halfLife) => {
  let stack: TestStack;
  let edge: Awaited<ReturnType<typeof createDecayEdge>>;
  let redis: Redis;
  const at = Date.now() + HOUR;

  beforeAll(async () => {
    stack = await createStack();
    redis = new Redis(REDIS_URL);
    if (halfLife !== null) await writeScoringSettings(stack.db, { half_life_seconds: halfLife }, new Date());
    await stack.startWorker();
    edge = await createDecayEdge(stack, () => at);
    const t0 = Date.now() - 48 * HOUR;
    const eventsOf = (leads: string[]) =>
      leads.flatMap((lead) => {
        const i = LEADS.indexOf(lead);
        return Array.from({ length: 1 + (i % 5) }, (_, k) =>
          queued(lead, `${lead}-${k}`, TYPES[(i * 3 + k) % TYPES.length] as string, t0 + ((i * 7 + k) % 24) * HOUR),
        );
      });
    await stack.send(eventsOf(IDLE), 20);
    await stack.drained();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cutoff = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await stack.send(eventsOf(LEADS.filter((lead) => !IDLE.includes(lead))), 20);
    await stack.drained();
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const before = await answers(edge);
    const shrunk = await shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 1000, now: () => cutoff + 1000 });
    expect(shrunk).toBe(IDLE.length);
    expect(await answers(edge)).toEqual(before);
  }, 240_000);

  afterAll(async () => {
    edge?.close();
    redis?.disconnect();
    await stack?.close();
  });

  it("keeps an idle lead in the score index and its stage's activity indexes only", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    for (const lead of LEADS.filter((one) => one !== REVIVED)) {
      const idle = IDLE.includes(lead);
      expect(await redis.hexists(keys.lead(lead), IDLE_MARK), lead).toBe(idle ? 1 : 0);
      const stage = (await redis.hget(keys.lead(lead), "st")) as (typeof STAGES)[number];
      expect(await redis.zscore(keys.byScore, lead), lead).not.toBeNull();
      expect(await redis.zscore(keys.byUpdatedIn(stage), lead), lead).not.toBeNull();
      expect(await redis.zscore(keys.byLastEventIn(stage), lead), lead).not.toBeNull();
      expect((await redis.zscore(keys.byUpdated, lead)) === null, lead).toBe(idle);
      expect((await redis.zscore(keys.byLastEvent, lead)) === null, lead).toBe(idle);
    }
  });

  it.runIf(halfLife === null)(
    "keeps an idle lead under one stage, at its times, when turning decay on moves it",
    async () => {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      /** Per lead: its stage, and the stages whose activity indexes hold it, with its values there. */
      const filing = async () =>
        Promise.all(
          LEADS.map(async (lead) => ({
            stage: await redis.hget(keys.lead(lead), "st"),
            updated: (await Promise.all(STAGES.map((one) => redis.zscore(keys.byUpdatedIn(one), lead)))).flatMap(
              (value, index) => (value === null ? [] : [[STAGES[index], value]]),
            ),
            lastEvent: (await Promise.all(STAGES.map((one) => redis.zscore(keys.byLastEventIn(one), lead)))).flatMap(
              (value, index) => (value === null ? [] : [[STAGES[index], value]]),
            ),
          })),
        );
      const before = await filing();
      expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: 3600 })).status).toBe(200);
      const after = await filing();
      // Off again, as the leads were scored: the audit of the other tests folds with the half-life in force.
      expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: null })).status).toBe(200);
      const moved = LEADS.filter((lead, i) => IDLE.includes(lead) && after[i]?.stage !== before[i]?.stage);
      expect(moved.length).toBeGreaterThan(0);
      after.forEach((lead, i) => {
        const was = before[i] as (typeof before)[number];
        expect(lead.updated, LEADS[i]).toEqual([[lead.stage, was.updated[0]?.[1]]]);
        expect(lead.lastEvent, LEADS[i]).toEqual([[lead.stage, was.lastEvent[0]?.[1]]]);
      });
    },
  );

  it("gives an idle lead its global activity entries back with its next event", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const lead = REVIVED;
    await stack.send([queued(lead, `${lead}-next`, "page_view", Date.now())]);
    await stack.drained();
    expect(await redis.hexists(keys.lead(lead), IDLE_MARK)).toBe(0);
    const stage = (await redis.hget(keys.lead(lead), "st")) as (typeof STAGES)[number];
    expect(await redis.zscore(keys.byUpdated, lead)).toBe(await redis.zscore(keys.byUpdatedIn(stage), lead));
    expect(await redis.zscore(keys.byLastEvent, lead)).toBe(await redis.zscore(keys.byLastEventIn(stage), lead));
    expect(await redis.zscore(keys.byLastEvent, lead)).not.toBeNull();
    expect(await auditAll(stack)).toEqual([]);
  });
});
