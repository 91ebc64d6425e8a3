// A retroactive publish, end to end: the edge publishes a draft that doubles demo_request and queues the re-score,
// a worker re-scores every lead while events keep arriving, and afterwards every lead, its history and the audit
// agree with the fold of its events under the new rules; publishing the first version again restores every score.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type QueuedEvent,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import { decodeOutboxMessage, liveKeys } from "@leadscore/live";
import { publishRuleSet, readRuleSet } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStackEdge } from "../../test-support/stack-edge.ts";
import {
  auditAll,
  createStack,
  historyOf,
  leadOf,
  queued,
  queuedRescore,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";
import { createRescorer } from "../src/rescore.ts";

const LEADS = 80;

/** Lead i: i % 4 demo requests, i % 7 page views, a purchase when i % 3 is 0; lead 1 also 160 page views (pages). */
function history(): QueuedEvent[] {
  const list: QueuedEvent[] = [];
  for (let i = 0; i < LEADS; i++) {
    const lead = `lead-${String(i).padStart(3, "0")}`;
    const types = [
      ...Array.from({ length: i % 4 }, () => "demo_request"),
      ...Array.from({ length: i % 7 }, () => "page_view"),
      ...(i % 3 === 0 ? ["purchase"] : []),
      ...(i === 1 ? Array.from({ length: 160 }, () => "page_view") : []),
    ];
    types.forEach((type, n) => {
      list.push(queued(lead, `${lead}-${n}`, type, T0 + ((n * 7 + i) % 13) * 60_000 + n));
    });
  }
  return list;
}

type Job = { id: string; state: string; version: number; progress: { leads_done: number; stage_changes: number } };
type Published = { version: number; mode: string; rescore: Job };

/** Every lead's score as its stored events fold with `points` per type (all events scored under one version). */
async function expectedScores(stack: TestStack, points: Record<string, number>): Promise<Map<string, number>> {
  const stored = await stack.db.collection<EventDocument>(COLLECTIONS.events).find({}).toArray();
  const byLead = new Map<string, ReturnType<typeof toScorable>[]>();
  for (const event of stored.map(toScorable)) {
    const rule = points[event.event_type];
    const scored = { ...event, points: rule ?? 0, rule_id: rule === undefined ? null : event.event_type };
    byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), scored]);
  }
  return new Map([...byLead].map(([lead, events]) => [lead, foldScores(events, stack.config.SCORE_CAP).score]));
}

describe("a retroactive publish while events keep arriving", () => {
  const held: { stack?: TestStack; edge?: ReturnType<typeof createStackEdge> } = {};
  beforeAll(async () => {
    held.stack = await createStack();
    await held.stack.startWorker({ rescorePollMs: 50 });
    await held.stack.send(history());
    await held.stack.drained();
    held.edge = createStackEdge(held.stack);
  }, 120_000);
  afterAll(async () => {
    held.edge?.close();
    await held.stack?.close();
  });
  const send = (method: string, path: string, body?: unknown) =>
    (held.edge as NonNullable<typeof held.edge>).send(method, path, body);

  /** Publishes, sends events in small jobs until the re-score is done (8 at least), then waits for the queue. */
  async function publishWhileEventsFlow(path: string, body: unknown, round: string): Promise<Job> {
    const stack = held.stack as TestStack;
    const response = await send("POST", path, body);
    expect(response.status).toBe(202);
    const published = (await response.json()) as Published;
    expect(published.mode).toBe("retroactive");
    let n = 0;
    let job: Job = published.rescore;
    // At least a few events whatever the re-score's pace: some land while it runs, some after.
    while (n < 8 || job.state === "queued" || job.state === "running") {
      // Old leads and new ones; demo requests among them, some late.
      const lead = n % 2 === 0 ? `lead-${String(n % LEADS).padStart(3, "0")}` : `new-${round}-${n % 9}`;
      const type = n % 3 === 0 ? "demo_request" : "page_view";
      await stack.send([queued(lead, `${round}-${n}`, type, T0 + (n % 17) * 60_000 + 7)]);
      n += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
      job = (await (await send("GET", `/api/rule-sets/rescores/${published.rescore.id}`)).json()) as Job;
    }
    await stack.drained();
    expect(job.state, JSON.stringify(job)).toBe("done");
    expect(job.version).toBe(published.version);
    return job;
  }

  async function expectEveryLead(points: Record<string, number>, version: number) {
    const stack = held.stack as TestStack;
    const want = await expectedScores(stack, points);
    for (const [lead, score] of want) {
      expect((await leadOf(stack, lead))?.current_score, lead).toBe(score);
      for (const entry of await historyOf(stack, lead))
        expect(entry.rules_version, `${lead} ${entry.event_id}`).toBe(version);
    }
    expect(await auditAll(stack)).toEqual([]);
    return want;
  }

  it("re-scores every lead with the new rules exactly once, and a rollback restores every score", async () => {
    const stack = held.stack as TestStack;
    const redis = (held.edge as NonNullable<typeof held.edge>).redis;
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    // A subscription wants stage changes: the commit scripts then write them to the outbox.
    await redis.set(keys.outbox.wants, "s");
    const seeded = { email_open: 10, page_view: 5, form_submission: 20, demo_request: 50, purchase: 100 };
    const before = await expectedScores(stack, { ...seeded, big: 600, small: 100, unsubscribe: -50 });

    expect((await send("POST", "/api/rule-sets/draft")).status).toBe(201);
    const draft = (await (await send("GET", "/api/rule-sets/draft")).json()) as {
      rules: { event_type: string; points: number }[];
    };
    const rules = draft.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
    expect((await send("PUT", "/api/rule-sets/draft", { rules, groups: [] })).status).toBe(200);
    const outboxBefore = (await redis.xlen(keys.outbox.stream)) as number;
    const doubled = { ...seeded, big: 600, small: 100, unsubscribe: -50, demo_request: 100 };
    const job = await publishWhileEventsFlow(
      "/api/rule-sets/draft/publish",
      { mode: "retroactive", webhooks: "send" },
      "a",
    );
    const after = await expectEveryLead(doubled, job.version);
    const moved = [...before].filter(([lead, score]) => {
      const thresholds = stack.config.STAGE_THRESHOLDS;
      return stageFor(score, thresholds) !== stageFor(after.get(lead) ?? 0, thresholds);
    });
    expect(job.progress.stage_changes).toBeGreaterThan(5);
    const rescoreMessages = async (from: number) =>
      ((await redis.xrange(keys.outbox.stream, "-", "+")) as [string, string[]][])
        .slice(from)
        .map(([, fields]) => decodeOutboxMessage(fields))
        .filter((message) => message.etype === "rescore");
    const sent = await rescoreMessages(outboxBefore);
    // One `lead.stage_changed` per lead the re-score moved across a stage, naming the version.
    expect(sent.length).toBe(job.progress.stage_changes);
    expect(new Set(sent.map((message) => message.lead)).size).toBe(sent.length);
    expect(
      sent.every((message) => message.type === "lead.stage_changed" && message.event === `rescore:${job.version}`),
    ).toBe(true);
    expect(moved.length).toBeGreaterThan(0);

    // A duplicate of lead-001's first event (a demo request settled in a page) has the deep lane read its stored
    // events again, and a rebuild lays every lead out from them: both fold the candidates the re-score matched.
    await stack.send([queued("lead-001", "lead-001-0", "demo_request", T0 + 60_000)]);
    await stack.drained();
    await eventually(async () => (await redis.hlen(keys.deep)) === 0);
    await expectEveryLead(doubled, job.version);
    // Under the rebuild lock, as a worker rebuilds: a worker that saw a rebuild no process holds would start its own.
    await withRebuildLock(redis, keys, (lock) => rebuildLiveState({ ...rebuildOptionsOf(stack, redis), lock }));
    await expectEveryLead(doubled, job.version);

    // Rolling back: version 1 (the seeded set) published again, webhooks suppressed.
    const outboxMid = (await redis.xlen(keys.outbox.stream)) as number;
    const rollback = await publishWhileEventsFlow(
      "/api/rule-sets/1/publish",
      { mode: "retroactive", webhooks: "suppress" },
      "b",
    );
    const restored = await expectEveryLead({ ...seeded, big: 600, small: 100, unsubscribe: -50 }, rollback.version);
    for (const [lead, score] of before) {
      if (![...restored.keys()].includes(lead)) continue;
      // Leads that got no event meanwhile are back at their score exactly.
      const touched = (await historyOf(stack, lead)).some((entry) => /^[ab]-/.test(entry.event_id));
      if (!touched) expect(restored.get(lead), lead).toBe(score);
    }
    expect(rollback.progress.stage_changes).toBeGreaterThan(0);
    expect(await rescoreMessages(outboxMid)).toEqual([]);
  }, 240_000);
});

describe("when a batch commits a lead between its re-score's read and its commit", () => {
  it("folds the lead again with the batch's event: every event once, under the new version", async () => {
    const stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      const worker = await stack.startWorker({ rulesReloadMs: 100 });
      await stack.send(history().filter((event) => event.lead_id < "lead-010"));
      await stack.drained();
      const store = { db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX };
      const current = await readRuleSet(stack.db);
      const rules = current.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
      const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
      const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
      // The batch below is matched under the new version: the worker's periodic reload has loaded it.
      await eventually(async () => worker.rules.current().version === version);
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const generation = (await redis.get(keys.gen)) as string;
      let commits = 0;
      const rescorer = createRescorer({
        ...rebuildOptionsOf(stack, redis),
        prefix: stack.config.REDIS_PREFIX,
        generation: () => generation,
        encodeUpdates: () => new Map(),
        beforeCommit: async () => {
          commits += 1;
          if (commits > 1) return;
          // A batch scores a demo request of lead-003 (under the new version) and commits it first.
          await stack.send([queued("lead-003", "late-demo", "demo_request", T0 + 30_000)]);
          await stack.drained();
        },
      });
      const job = queuedRescore("interleaved", version);
      const progress = await rescorer.run(job, new AbortController().signal, async () => false);
      expect(commits).toBe(2);
      expect(progress.leads_done).toBe(progress.leads_total);
      const lead = await historyOf(stack, "lead-003");
      expect(lead.filter((entry) => entry.event_id === "late-demo")).toHaveLength(1);
      expect(lead.every((entry) => entry.rules_version === version)).toBe(true);
      // lead-003: 3 demo requests at 100, 3 page views at 5, a purchase at 100, and the one the batch brought.
      expect((await leadOf(stack, "lead-003"))?.current_score).toBe(4 * 100 + 3 * 5 + 100);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  }, 120_000);
});
