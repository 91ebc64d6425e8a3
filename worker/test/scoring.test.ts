import { COLLECTIONS, type EventDocument, type ScoreUpdate } from "@leadscore/contracts";
import { liveKeys, rankKey, setProfile } from "@leadscore/live";
import { queuedEventsKey, rulesChannel, updateRule } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { createStack, historyOf, leadOf, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";

let stack: TestStack;
const published: ScoreUpdate[] = [];
/** For each publish: whether the live state already had every announced score when it was called. */
const committedWhenPublished: boolean[] = [];

beforeAll(async () => {
  stack = await createStack({ env: { METRICS_PORT: "0" } });
  await stack.startWorker({
    // Rules change only when a test announces it: no periodic reload lands in the middle of one.
    rulesReloadMs: 3_600_000,
    publisher: {
      async publish(updates) {
        const leads = await Promise.all(updates.map((update) => leadOf(stack, update.lead_id)));
        committedWhenPublished.push(
          updates.every((update, index) => leads[index]?.current_score === update.current_score),
        );
        published.push(...updates);
      },
    },
  });
});

afterAll(async () => {
  await stack?.close();
});

describe("when +600 events at t1 and t3 are followed by a late +100 at t2", () => {
  it("caps at 1000, then slots the late event in and recomputes the entry after it", async () => {
    await stack.send([queued("design-a", "a1", "big", T0 + 1_000), queued("design-a", "a3", "big", T0 + 3_000)]);
    await stack.drained();
    expect((await historyOf(stack, "design-a")).map((entry) => entry.score)).toEqual([600, 1000]);

    await stack.send([queued("design-a", "a2", "small", T0 + 2_000)]);
    await stack.drained();
    const history = await historyOf(stack, "design-a");
    expect(history.map((entry) => [entry.event_id, entry.score, entry.delta, entry.late])).toEqual([
      ["a1", 600, 600, false],
      ["a2", 700, 100, true],
      ["a3", 1000, 300, false],
    ]);
    expect(history.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    const lead = await leadOf(stack, "design-a");
    expect(lead).toMatchObject({
      current_score: 1000,
      stage: "qualified",
      event_count: 3,
      last_sort_key: history[2]?.sort_key,
    });
    expect(lead?.last_event_at).toBe(T0 + 3_000);
    // The score last changed (to 1000) at t3.
    expect(lead?.score_reached_at).toBe(T0 + 3_000);
  });
});

describe("when eleven purchases and a -50 event at the latest time arrive out of order", () => {
  it("ends at 950", async () => {
    const received = Date.now();
    const penalty = { ...queued("design-b", "minus", "unsubscribe", T0 + 1_000), received_at: received };
    // Received after the penalty, which is newer in event time: every purchase is late.
    const purchases = Array.from({ length: 11 }, (_, i) => ({
      ...queued("design-b", `p${i}`, "purchase", T0 + i * 10),
      received_at: received + 11 - i,
    }));
    // The penalty first, then the purchases newest first, one per job.
    await stack.send([penalty, ...purchases.reverse()], 1);
    await stack.drained();
    const history = await historyOf(stack, "design-b");
    expect(history).toHaveLength(12);
    expect(history.at(-1)).toMatchObject({ event_id: "minus", delta: -50, score: 950 });
    expect(history.filter((entry) => entry.late)).toHaveLength(11);
    expect((await leadOf(stack, "design-b"))?.current_score).toBe(950);
  });
});

describe("when the same event id arrives again", () => {
  it("counts it once and keeps the stored copy, even when the payload differs", async () => {
    await stack.send([queued("dup-a", "same-1", "purchase", T0)]);
    await stack.drained();
    await stack.send([
      queued("dup-a", "same-1", "purchase", T0),
      queued("dup-a", "same-1", "demo_request", T0 + 5),
      queued("dup-b", "same-1", "purchase", T0),
    ]);
    await stack.drained();
    const history = await historyOf(stack, "dup-a");
    expect(history.map((entry) => [entry.event_id, entry.event_type, entry.points])).toEqual([
      ["same-1", "purchase", 100],
    ]);
    expect(await leadOf(stack, "dup-a")).toMatchObject({ current_score: 100, event_count: 1 });
    expect(await leadOf(stack, "dup-b")).toBeNull();
  });
});

describe("when a lead has a profile", () => {
  it("keeps the profile through score writes, and keeps the score through profile writes", async () => {
    const redis = new Redis(REDIS_URL);
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const zero = { rankKey: rankKey(0, null, stack.config.SCORE_CAP), stage: "cold" as const };
    const profile = (company: string) => ({ name: "Ada", email: "ada@example.com", company });
    try {
      // As the API creates a lead before any event: a profile and a score of 0.
      expect(await setProfile(redis, keys, "profiled", profile("Acme"), Date.now(), zero)).toBe(false);
      await stack.send([queued("profiled", "pr-1", "demo_request", T0)]);
      await stack.drained();
      expect(await leadOf(stack, "profiled")).toMatchObject({ name: "Ada", company: "Acme", current_score: 50 });

      expect(await setProfile(redis, keys, "profiled", profile("Acme Ltd"), Date.now(), zero)).toBe(true);
      expect(await leadOf(stack, "profiled")).toMatchObject({ company: "Acme Ltd", current_score: 50 });
      await stack.send([queued("profiled", "pr-2", "demo_request", T0 + 1)]);
      await stack.drained();
      expect(await leadOf(stack, "profiled")).toMatchObject({ name: "Ada", company: "Acme Ltd", current_score: 100 });
    } finally {
      redis.disconnect();
    }
  });

  it("creates a lead seen first in an event with an empty profile", async () => {
    await stack.send([queued("fresh-lead", "fr-1", "page_view", T0)]);
    await stack.drained();
    expect(await leadOf(stack, "fresh-lead")).toMatchObject({
      name: null,
      email: null,
      company: null,
      current_score: 5,
      stage: "cold",
      event_count: 1,
    });
  });
});

describe("when an event type has no active rule", () => {
  it("records the event with 0 points and no rule", async () => {
    await stack.send([queued("norule", "nr-1", "dormant", T0), queued("norule", "nr-2", "never_heard_of", T0 + 1)]);
    await stack.drained();
    const history = await historyOf(stack, "norule");
    expect(history.map((entry) => [entry.points, entry.rule_id, entry.reason])).toEqual([
      [0, null, "no active rule for dormant"],
      [0, null, "no active rule for never_heard_of"],
    ]);
  });
});

describe("when a job is poison", () => {
  it("fails it once with its reason, scores the valid events beside bad ones, and goes on with later jobs", async () => {
    const unknownVersion = await stack.queue.add({ v: 2, events: [] }, { attempts: 5 });
    const mixed = await stack.queue.add(
      { v: 1, events: [queued("poison-ok", "ok-1", "page_view", T0), { lead_id: "x", event_type: "BAD" }] },
      { attempts: 5 },
    );
    await stack.send([queued("poison-after", "after-1", "purchase", T0)]);
    await stack.drained();

    const failedVersion = await stack.queue.getJob(unknownVersion.id);
    expect(failedVersion?.failedReason).toBe("unsupported job version 2");
    expect(failedVersion?.attemptsMade).toBe(1);
    expect(await failedVersion?.isFailed()).toBe(true);
    const failedMixed = await stack.queue.getJob(mixed.id);
    expect(failedMixed?.failedReason).toMatch(/1 of 2 events malformed .*events\[1\] event_id is malformed/);
    expect(failedMixed?.attemptsMade).toBe(1);
    expect((await leadOf(stack, "poison-ok"))?.current_score).toBe(5);
    expect((await leadOf(stack, "poison-after"))?.current_score).toBe(100);
  });
});

describe("when a rule changes", () => {
  const redis = new Redis(REDIS_URL);
  afterAll(() => redis.disconnect());
  const ruleStore = () => ({ db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX });
  it("scores new events with the new points once the change is announced, and leaves stored events as they were", async () => {
    await stack.send([queued("rules-a", "ru-1", "email_open", T0)]);
    await stack.drained();

    // Written as the rules routes write it: a new version of the rule set.
    await updateRule(ruleStore(), "email_open", { points: 40 });
    const [worker] = stack.workers;
    // Stored but not announced: the worker still scores with the points it loaded.
    expect(worker?.rules.current().match({ event_type: "email_open" })[0]?.points).toBe(10);
    const publisher = new Redis(REDIS_URL);
    await publisher.publish(rulesChannel(stack.config.REDIS_PREFIX), JSON.stringify({ id: "email_open" }));
    publisher.disconnect();
    await eventually(async () => worker?.rules.current().match({ event_type: "email_open" })[0]?.points === 40);

    await stack.send([queued("rules-a", "ru-2", "email_open", T0 + 1)]);
    await stack.drained();
    const history = await historyOf(stack, "rules-a");
    expect(history.map((entry) => entry.points)).toEqual([10, 40]);
    const stored = await stack.db.collection<EventDocument>(COLLECTIONS.events).findOne({ _id: "ru-1" });
    expect(stored?.points).toBe(10);
  });

  it("treats a deactivated rule as no rule", async () => {
    await updateRule(ruleStore(), "form_submission", { active: false });
    await stack.workers[0]?.rules.reload();
    await stack.send([queued("rules-b", "rb-1", "form_submission", T0)]);
    await stack.drained();
    expect((await historyOf(stack, "rules-b"))[0]).toMatchObject({ points: 0, rule_id: null });
  });
});

describe("when scores are committed", () => {
  it("publishes one update per lead, only once its score is committed", async () => {
    published.length = 0;
    committedWhenPublished.length = 0;
    await stack.send([
      queued("pub-a", "pa-1", "page_view", T0),
      queued("pub-a", "pa-2", "purchase", T0 + 10),
      queued("pub-b", "pb-1", "email_open", T0),
    ]);
    await stack.drained();
    await eventually(async () => published.length >= 2);
    expect(committedWhenPublished.every(Boolean)).toBe(true);
    expect(published.find((update) => update.lead_id === "pub-a")).toEqual({
      lead_id: "pub-a",
      current_score: 105,
      delta: 105,
      stage: "warm",
      event_id: "pa-2",
      event_type: "purchase",
      timestamp: new Date(T0 + 10).toISOString(),
    });
    expect(published.filter((update) => update.lead_id === "pub-a")).toHaveLength(1);
  });

  it("exposes throughput, lag and failures as Prometheus text", async () => {
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${stack.workers[0]?.metricsPort}/metrics`);
      expect(response.status).toBe(200);
      const text = await response.text();
      const value = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? 0);
      return {
        text,
        scored: value(/^leadscore_worker_events_scored_total (\d+)$/m),
        completed: value(/^leadscore_worker_jobs_total\{outcome="completed"\} (\d+)$/m),
        permanent: value(/^leadscore_worker_jobs_total\{outcome="permanent"\} (\d+)$/m),
        lagged: value(/^leadscore_worker_lag_seconds_count (\d+)$/m),
      };
    };
    const before = await scrape();
    await stack.send([queued("metrics-a", "me-1", "page_view", T0), queued("metrics-a", "me-2", "page_view", T0 + 1)]);
    await stack.queue.add({ v: 2, events: [] });
    await stack.drained();
    const after = await scrape();
    expect(after.scored - before.scored).toBe(2);
    expect(after.completed - before.completed).toBe(1);
    expect(after.permanent - before.permanent).toBe(1);
    expect(after.lagged - before.lagged).toBe(2);
    expect(after.text).toMatch(/^leadscore_worker_lag_seconds_bucket\{le="\+Inf"\} \d+$/m);
  });
});

describe("the queued-events count", () => {
  it("takes off each finished job's events, completed or failed for good", async () => {
    const key = queuedEventsKey(stack.config.REDIS_PREFIX);
    const redis = new Redis(REDIS_URL);
    try {
      // The worker takes finished jobs' events off in writes batched over a short window: the previous test's last
      // write may still be on its way when its jobs are drained, so start from a count that has stopped moving.
      let before = Number.NaN;
      await eventually(async () => {
        const read = Number((await redis.get(key)) ?? 0);
        const settled = read === before;
        before = read;
        if (!settled) await new Promise((resolve) => setTimeout(resolve, 500));
        return settled;
      });
      await stack.send([
        queued("count-a", "count-1", "page_view", T0),
        queued("count-a", "count-2", "page_view", T0 + 1),
      ]);
      await stack.queue.add({ v: 1, events: [queued("count-b", "count-3", "page_view", T0), { lead_id: "x" }] });
      await stack.drained();
      await eventually(async () => Number(await redis.get(key)) === before - 4);
    } finally {
      redis.disconnect();
    }
  });
});
