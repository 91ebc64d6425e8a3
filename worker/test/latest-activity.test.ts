// The latest-activity indexes (all leads, and one per stage): each lead's newest event time, written by the worker's
// commit and by the rebuild, and the lists paged by them.
import { STAGES, type Stage } from "@leadscore/contracts";
import { createLiveReader, type LeadSort, type ListQuery, liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

let stack: TestStack | undefined;
let redis: Redis | undefined;

afterEach(async () => {
  redis?.disconnect();
  redis = undefined;
  await stack?.close();
  stack = undefined;
});

const LEADS = 30;
/** Lead i's newest event is at T0 + i minutes, but the leads' ids sort in another order than their activity. */
const leadId = (i: number) => `act-${String((i * 7) % LEADS).padStart(2, "0")}`;
const newestAt = (i: number) => T0 + i * 60_000;

describe("when events reach leads in any order, some late", () => {
  it("indexes each lead by its newest event time, pages by it without a skip, and rebuilds it the same", async () => {
    stack = await createStack();
    await stack.startWorker();
    // Every lead gets its newest event first, then an older one (late: it must not move the lead's activity back);
    // every third lead also reaches warm (a purchase, 100).
    const events = Array.from({ length: LEADS }, (_, i) => [
      queued(leadId(i), `${leadId(i)}-new`, i % 3 === 0 ? "purchase" : "page_view", newestAt(i)),
      queued(leadId(i), `${leadId(i)}-old`, "page_view", newestAt(i) - 3_600_000),
    ]);
    await stack.send(
      events.map(([newest]) => newest as ReturnType<typeof queued>),
      7,
    );
    await stack.drained();
    await stack.send(
      events.map(([, older]) => older as ReturnType<typeof queued>),
      7,
    );
    await stack.drained();

    redis = new Redis(REDIS_URL);
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const indexed = async () =>
      Object.fromEntries(pairs((await redis?.zrange(keys.byLastEvent, "0", "-1", "WITHSCORES")) ?? []));
    const want = Object.fromEntries(Array.from({ length: LEADS }, (_, i) => [leadId(i), String(newestAt(i))]));
    expect(await indexed()).toEqual(want);

    const { cap, thresholds } = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
    const reader = createLiveReader({ redis, redisPrefix: stack.config.REDIS_PREFIX, cap, thresholds });
    async function pageAll(
      query: Omit<ListQuery, "limit" | "after">,
      from: ListQuery["after"] = null,
    ): Promise<string[]> {
      const seen: string[] = [];
      let after = from;
      do {
        const page = await reader.list({ ...query, limit: 4, after });
        seen.push(...page.leads.map((lead) => lead.id));
        after = page.next;
      } while (after !== null);
      return seen;
    }
    const byActivity = Array.from({ length: LEADS }, (_, i) => leadId(i));
    const descending = [...byActivity].reverse();
    // With no filter the index is read as it stands, in either order.
    expect(await pageAll({ sort: "-last_event_at" })).toEqual(descending);
    expect(await pageAll({ sort: "last_event_at" })).toEqual(byActivity);

    // Each stage has its own index, and a lead that enters a stage between two pages moves to that stage's index:
    // the pages list it where its activity places it, and no other lead is skipped or repeated.
    const warm = new Set(byActivity.filter((_, i) => i % 3 === 0));
    const inStage = async (stage: Stage) =>
      Object.fromEntries(pairs((await redis?.zrange(keys.byLastEventIn(stage), "0", "-1", "WITHSCORES")) ?? []));
    const stageWant = (stage: Stage) =>
      Object.fromEntries(Object.entries(want).filter(([id]) => warm.has(id) === (stage === "warm")));
    expect(await inStage("warm")).toEqual(stageWant("warm"));
    expect(await inStage("cold")).toEqual(stageWant("cold"));
    /** Lead i reaches warm by a purchase older than its newest event: its stage moves, its activity does not. */
    async function warmUp(i: number) {
      await stack?.send([queued(leadId(i), `${leadId(i)}-buy`, "purchase", newestAt(i) - 7_200_000)]);
      await stack?.drained();
      warm.add(leadId(i));
    }
    const sorts: [LeadSort, string[], number][] = [
      // The least active cold lead enters warm after the first page: it sits behind the cursor, on a later page.
      ["-last_event_at", descending, 1],
      ["last_event_at", byActivity, LEADS - 1],
    ];
    for (const [sort, order, mover] of sorts) {
      const first = await reader.list({ sort, stage: "warm", limit: 4, after: null });
      await warmUp(mover);
      const rest = await pageAll({ sort, stage: "warm" }, first.next);
      const expected = order.filter((id) => warm.has(id));
      expect([...first.leads.map((lead) => lead.id), ...rest], sort).toEqual(expected);
      expect(await pageAll({ sort, stage: "cold" }), `${sort} cold`).toEqual(order.filter((id) => !warm.has(id)));
    }
    expect(await inStage("warm")).toEqual(stageWant("warm"));
    expect(await inStage("cold")).toEqual(stageWant("cold"));

    // The rebuild writes the same index from MongoDB alone.
    await redis.del(keys.byLastEvent, ...STAGES.map((stage) => keys.byLastEventIn(stage)));
    await withRebuildLock(redis, keys, () =>
      rebuildLiveState({
        db: stack?.db as TestStack["db"],
        redis: redis as Redis,
        keys,
        cap,
        thresholds,
        log: silentLogger,
      }),
    );
    expect(await indexed()).toEqual(want);
    expect(await inStage("warm")).toEqual(stageWant("warm"));
    expect(await inStage("cold")).toEqual(stageWant("cold"));
  }, 120_000);
});

/** `[member, score, member, score, …]` as pairs. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
