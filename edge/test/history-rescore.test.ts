// The history of a lead a retroactive publish moved: one re-score entry, with no event, at the instant the lead
// switched, derived at read time from the lead's re-score log — the versions from and to, the score and stage either
// side — listed once in both orders and across pages, settled pages included, while every event entry shows what the
// new version gives it, so the deltas still sum to the score and every entry names the version that scored it. A lead
// the re-score did not move gets no entry. The log is kept in MongoDB too: a rebuild of the live state lays it out
// again, and a merge carries the merged lead's entries into its root's history, naming it.
import { liveKeys } from "@leadscore/live";
import type { EventsJob } from "@leadscore/runtime";
import { rebuildLiveState, withRebuildLock } from "@leadscore/worker";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, rebuildOptionsOf, type TestStack } from "../../test-support/worker-stack.ts";
import type { RescoreHistoryEntry } from "../src/routes/leads/history-rescore.ts";

const MINUTE = 60_000;
const T = Date.now() - 3 * 60 * MINUTE;

let stack: TestStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;

interface Entry {
  event_id: string;
  event_type: string;
  delta: number;
  score: number;
  cause: string;
  reason: string;
  rules_version: number | null;
  rescore?: RescoreHistoryEntry["rescore"];
}

beforeAll(async () => {
  stack = await createStack();
  edge = await createDecayEdge(stack);
  await stack.startWorker({ rescorePollMs: 50, deepLaneIdleMs: 20 });
});

afterAll(async () => {
  edge?.close();
  await stack?.close();
});

const history = (leadId: string, order: "asc" | "desc", limit: number): Promise<Entry[]> =>
  edge.readPages(`/api/leads/${leadId}/history?order=${order}&limit=${limit}`);

const scoreOf = async (leadId: string) =>
  ((await (await edge.read(`/api/leads/${leadId}`)).json()) as { current_score: number }).current_score;

/** `count` events of `type` for `leadId`, a minute apart from `from`. */
const events = (leadId: string, type: string, count: number, from: number) =>
  Array.from({ length: count }, (_, n) => queued(leadId, `${leadId}-${type}-${n}`, type, from + n * MINUTE));

/** Publishes the current rules with demo_request at 100, retroactively, and waits for its re-score to end. */
const doubleDemoRequests = () => publishRetroactively("demo_request", 100);

/** Publishes the current rules with `type` at `points`, retroactively, and waits for its re-score to end. */
async function publishRetroactively(type: string, points: number): Promise<number> {
  expect((await edge.send("POST", "/api/rule-sets/draft")).status).toBe(201);
  const draft = (await (await edge.send("GET", "/api/rule-sets/draft")).json()) as {
    rules: { event_type: string; points: number }[];
  };
  const rules = draft.rules.map((rule) => (rule.event_type === type ? { ...rule, points } : rule));
  expect((await edge.send("PUT", "/api/rule-sets/draft", { rules, groups: [] })).status).toBe(200);
  const response = await edge.send("POST", "/api/rule-sets/draft/publish", { mode: "retroactive" });
  expect(response.status).toBe(202);
  const published = (await response.json()) as { version: number; rescore: { id: string } };
  await eventually(async () => {
    const job = (await (await edge.send("GET", `/api/rule-sets/rescores/${published.rescore.id}`)).json()) as {
      state: string;
    };
    return job.state === "done";
  }, 60_000);
  return published.version;
}

describe("when a retroactive publish moved a lead", () => {
  it("lists one re-score entry naming the versions and the scores either side, in both orders and across pages", async () => {
    // 80 page views (past the tail Redis keeps: settled pages) and 3 demo requests: 550, hot; 700, qualified after.
    await stack.send([...events("mover", "page_view", 80, T), ...events("mover", "demo_request", 3, T + 30_000)], 50);
    await stack.send(events("still", "page_view", 3, T));
    await stack.drained();
    expect(await scoreOf("mover")).toBe(550);
    const version = await doubleDemoRequests();

    const all = await history("mover", "asc", 200);
    expect(all).toHaveLength(84);
    const rescores = all.filter((entry) => entry.cause === "rescore");
    expect(rescores).toHaveLength(1);
    const [entry] = rescores as [Entry];
    expect(entry.event_id).toBe(`rescore:${version}`);
    expect(entry.delta).toBe(0);
    // After every event: its score is the history's there.
    expect(entry.score).toBe(700);
    expect(entry.rescore).toEqual({
      from_version: version - 1,
      to_version: version,
      score_before: 550,
      score_after: 700,
      delta: 150,
      stage_before: "hot",
      stage_after: "qualified",
    });
    expect(all.at(-1)).toEqual(entry);
    // Every entry names the version that scored it, and the deltas sum to the score.
    expect(all.every((e) => e.rules_version === version)).toBe(true);
    expect(all.reduce((sum, e) => sum + e.delta, 0)).toBe(await scoreOf("mover"));
    // Paged 7 at a time, either way: the same entries, once each.
    expect((await history("mover", "asc", 7)).map((e) => e.event_id)).toEqual(all.map((e) => e.event_id));
    expect((await history("mover", "desc", 7)).map((e) => e.event_id)).toEqual(all.map((e) => e.event_id).reverse());

    // The lead the re-score did not move has no re-score entry; its events name the version all the same.
    const still = await history("still", "desc", 50);
    expect(still.map((e) => e.cause)).toEqual(["event", "event", "event"]);
    expect(still.every((e) => e.rules_version === version)).toBe(true);

    // A late demo request, before the re-score's instant, moves the re-score entry's score as any later entry's.
    await stack.send([queued("mover", "late-demo", "demo_request", T + 10 * MINUTE + 1)]);
    await stack.drained();
    await eventually(async () => (await scoreOf("mover")) === 800);
    const after = await history("mover", "desc", 9);
    expect(after).toHaveLength(85);
    expect(after.filter((e) => e.cause === "rescore").map((e) => [e.score, e.rescore?.delta])).toEqual([[800, 150]]);
    expect(after.reduce((sum, e) => sum + e.delta, 0)).toBe(800);
  }, 180_000);
});

/** Rebuilds the live state from MongoDB, as a worker does (under the rebuild lock). */
async function rebuild() {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    await withRebuildLock(redis, keys, (lock) => rebuildLiveState({ ...rebuildOptionsOf(stack, redis), lock }));
  } finally {
    redis.disconnect();
  }
}

// Each publishes a type no other test here sends, so whatever ran before, its leads move only by its own publish.
describe("when the live state is rebuilt after a re-score moved a lead", () => {
  it("answers the same history, its re-score entry included", async () => {
    // 80 page views (settled pages) and 3 form submissions: 460, hot; 520 after form submissions go to 40.
    await stack.send([
      ...events("rebuilt", "page_view", 80, T),
      ...events("rebuilt", "form_submission", 3, T + 30_000),
    ]);
    await stack.drained();
    const version = await publishRetroactively("form_submission", 40);
    const before = await history("rebuilt", "asc", 200);
    expect(before.filter((entry) => entry.cause === "rescore").map((entry) => entry.event_id)).toEqual([
      `rescore:${version}`,
    ]);

    await rebuild();
    expect(await history("rebuilt", "asc", 200)).toEqual(before);
    expect(await history("rebuilt", "desc", 7)).toEqual([...before].reverse());
  }, 180_000);
});

describe("when a lead a re-score moved is merged into another", () => {
  it("carries the merged lead's re-score entry into its root's history, naming it, before and after a rebuild", async () => {
    // Two purchases of the anonymous lead (200, warm → 300, hot) and one of the known lead (100, warm → 150).
    await stack.send([
      ...events("rs-anon", "purchase", 2, T),
      ...events("rs-known", "purchase", 1, T + 30_000),
      ...events("rs-known", "page_view", 2, T + 40_000),
    ]);
    await stack.drained();
    const version = await publishRetroactively("purchase", 150);
    const job: EventsJob = {
      v: 1,
      events: [],
      merges: [{ from: "rs-anon", into: "rs-known", kind: "identify", at: Date.now() }],
    };
    await stack.queue.add(job, { attempts: 10, backoff: 50 });
    await eventually(async () => (await scoreOf("rs-known")) === 460);

    const all = await eventually(async () => {
      const entries = await history("rs-known", "asc", 50);
      return entries.some((entry) => entry.cause === "merge") && entries;
    });
    // Its own entry, then the one carried over (same instant when one chunk committed both: ordered by id).
    const rescores = all
      .filter((entry) => entry.cause === "rescore")
      .sort((a, b) => a.event_id.localeCompare(b.event_id));
    expect(rescores.map((entry) => [entry.event_id, entry.rescore])).toEqual([
      [
        `rescore:${version}`,
        {
          from_version: version - 1,
          to_version: version,
          score_before: 110,
          score_after: 160,
          delta: 50,
          stage_before: "warm",
          stage_after: "warm",
        },
      ],
      [
        `rescore:${version}:rs-anon`,
        {
          from_version: version - 1,
          to_version: version,
          score_before: 200,
          score_after: 300,
          delta: 100,
          stage_before: "warm",
          stage_after: "hot",
          merged_id: "rs-anon",
        },
      ],
    ]);
    expect(rescores[1]?.reason).toContain("rs-anon");
    // The merged id's history is its root's.
    expect(await history("rs-anon", "asc", 50)).toEqual(all);

    // A rebuild lays both out again (the merge entry knows no scores either side after it: docs/api.md).
    await rebuild();
    const rebuilt = await history("rs-known", "asc", 50);
    const withoutMerge = (entries: Entry[]) => entries.filter((entry) => entry.cause !== "merge");
    expect(withoutMerge(rebuilt)).toEqual(withoutMerge(all));
  }, 180_000);
});
