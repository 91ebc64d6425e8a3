// The latest-activity index: each lead's newest event time, written by the worker's commit and by the rebuild, and
// the lists paged by it.
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
    async function pageAll(query: Omit<ListQuery, "limit" | "after">): Promise<string[]> {
      const seen: string[] = [];
      let after: ListQuery["after"] = null;
      do {
        const page = await reader.list({ ...query, limit: 4, after });
        seen.push(...page.leads.map((lead) => lead.id));
        after = page.next;
      } while (after !== null);
      return seen;
    }
    const byActivity = Array.from({ length: LEADS }, (_, i) => leadId(i));
    const sorts: [LeadSort, string[]][] = [
      ["-last_event_at", [...byActivity].reverse()],
      ["last_event_at", byActivity],
    ];
    for (const [sort, order] of sorts) {
      expect(await pageAll({ sort }), sort).toEqual(order);
      // A stage walks the index and keeps its leads, in the same order.
      const warm = order.filter((id) => byActivity.indexOf(id) % 3 === 0);
      expect(await pageAll({ sort, stage: "warm" }), `${sort} warm`).toEqual(warm);
    }

    // The rebuild writes the same index from MongoDB alone.
    await redis.del(keys.byLastEvent);
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
  }, 120_000);
});

/** `[member, score, member, score, …]` as pairs. */
function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
}
