import {
  createLiveReader,
  historySpans,
  IDLE_FIELDS,
  IDLE_MARK,
  idleArchiveOf,
  type LiveLead,
  leadHashFields,
  liveKeys,
  shrinkIdleLeads,
  wholeHistory,
} from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { publishRuleSet, readRuleSet } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  queued,
  queuedRescore,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { readLiveLeads } from "../src/live-lead-stream.ts";
import { createRescorer } from "../src/rescore.ts";

const MINUTE = 60_000;
const TYPES = ["page_view", "big", "unsubscribe", "small", "email_open", "form_submission"];

/** What every read of a lead shows, its version aside (a shrink moves it, as any compare-and-set write does). */
async function views(stack: TestStack, redis: Redis, leadId: string, withArchive = true) {
  const reader = createLiveReader({
    redis,
    redisPrefix: stack.config.REDIS_PREFIX,
    cap: stack.config.SCORE_CAP,
    thresholds: stack.config.STAGE_THRESHOLDS,
    idleArchive: withArchive ? idleArchiveOf(stack.db) : undefined,
  });
  const lead = (await reader.leadWithTail(leadId)) as LiveLead;
  const history = await wholeHistory(lead, loadPagesFrom(stack.db), stack.config.SCORE_CAP);
  const { version: _version, ...detail } = lead;
  const { score, stage, count, lastEventAt, reachedAt, updatedAt } = (await reader.lead(leadId)) as LiveLead;
  return {
    summary: { score, stage, count, lastEventAt, reachedAt, updatedAt },
    detail: { ...detail, tail: lead.tail, pages: lead.pages, breakdown: lead.breakdown },
    history,
    series: historySpans(lead),
    breakdown: await reader.breakdown(leadId),
    snapshot: await reader.snapshot(leadId),
    rank: await reader.rank(leadId),
  };
}

/** A stack whose lead `leadId` has a history in pages and tail, and a busy lead committed after the cutoff. */
async function idleStack(leadId: string) {
  const stack = await createStack();
  const redis = new Redis(REDIS_URL);
  await stack.startWorker();
  // Enough events for pages in MongoDB and a tail in Redis, some arriving late.
  const events = Array.from({ length: 160 }, (_, i) =>
    queued(leadId, `e-${String(i).padStart(3, "0")}`, TYPES[i % TYPES.length] as string, T0 + ((i * 7) % 160) * MINUTE),
  );
  await stack.send(events, 40);
  await stack.send([queued("busy-lead", "b-1", "big", T0)]);
  await stack.drained();
  const keys = liveKeys(stack.config.REDIS_PREFIX);
  const before = await views(stack, redis, leadId);
  const bytesBefore = Number(await redis.memory("USAGE", keys.lead(leadId), "SAMPLES", 0));
  // Only the dormant lead is untouched long enough: the busy one is committed again after the cutoff.
  const cutoff = Date.now() + 1;
  await new Promise((resolve) => setTimeout(resolve, 5));
  await stack.send([queued("busy-lead", "b-2", "small", T0 + MINUTE)]);
  await stack.drained();
  const shrink = () => shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 1000, now: () => cutoff + 1000 });
  const shrunk = await shrink();
  return { stack, redis, keys, before, bytesBefore, shrunk, shrink };
}

describe("when a lead has been idle for LIVE_IDLE_DAYS", () => {
  const leadId = "dormant-lead";
  let idle: Awaited<ReturnType<typeof idleStack>>;

  beforeAll(async () => {
    idle = await idleStack(leadId);
  });
  afterAll(async () => {
    idle.redis.disconnect();
    await idle.stack.close();
  });

  it("sheds its history from Redis and reads identically from MongoDB", async () => {
    const { redis, keys, stack } = idle;
    expect(idle.shrunk).toBe(1);
    const shed = await redis.hmget(keys.lead(leadId), ...leadHashFields(IDLE_FIELDS));
    expect(shed.every((value) => value === null)).toBe(true);
    expect(await redis.hget(keys.lead(leadId), IDLE_MARK)).not.toBeNull();
    expect(await redis.hexists(keys.lead("busy-lead"), IDLE_MARK)).toBe(0);
    const bytesAfter = Number(await redis.memory("USAGE", keys.lead(leadId), "SAMPLES", 0));
    expect(bytesAfter).toBeLessThan(idle.bytesBefore / 10);
    expect(await views(stack, redis, leadId)).toEqual(idle.before);
    // A second sweep finds nothing new to shed.
    expect(await idle.shrink()).toBe(0);
  });

  it("reads without its history where no archive is at hand", async () => {
    const { detail, summary } = await views(idle.stack, idle.redis, leadId, false);
    expect(detail.tail).toEqual([]);
    expect(summary).toEqual(idle.before.summary);
  });
});

describe("when an idle lead's next event arrives", () => {
  const leadId = "returning-lead";
  let idle: Awaited<ReturnType<typeof idleStack>>;

  beforeAll(async () => {
    idle = await idleStack(leadId);
    await idle.stack.send([queued(leadId, "e-late", "big", T0 + 30.5 * MINUTE)]);
    await idle.stack.drained();
  });
  afterAll(async () => {
    idle.redis.disconnect();
    await idle.stack.close();
  });

  it("gets its history back first and folds the event exactly, a late one included", async () => {
    const { redis, keys, stack, before } = idle;
    expect(idle.shrunk).toBe(1);
    expect(await redis.hexists(keys.lead(leadId), IDLE_MARK)).toBe(0);
    const after = await views(stack, redis, leadId);
    expect(after.history.map((entry) => entry.event_id).sort()).toEqual(
      [...before.history.map((entry) => entry.event_id), "e-late"].sort(),
    );
    expect(after.summary.count).toBe(before.summary.count + 1);
    expect(await auditAll(stack)).toEqual([]);
  });
});

describe("when an idle lead is previewed and re-scored retroactively", () => {
  const leadId = "rescored-lead";
  let idle: Awaited<ReturnType<typeof idleStack>>;

  beforeAll(async () => {
    idle = await idleStack(leadId);
    // A refold still in flight when the sweep ran may have given the lead back its fields: shrink it (again) now.
    await idle.stack.drained();
    const { redis, keys, stack } = idle;
    await shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 1000, now: () => Date.now() + 86_400_000 });
  });
  afterAll(async () => {
    idle.redis.disconnect();
    await idle.stack.close();
  });

  // One test: the tests of a file run in a shuffled order, and the re-score gives the lead back its fields.
  it("is read whole while idle (as a preview reads it), then given its history back and re-folded", async () => {
    const { redis, keys, stack, before } = idle;
    const read = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
    expect(await redis.hget(keys.lead(leadId), IDLE_MARK)).not.toBeNull();
    const [previewed] = await readLiveLeads(redis, stack.db, keys, [leadId], read);
    expect(previewed?.events.map((event) => event.event_id)).toEqual(before.history.map((entry) => entry.event_id));
    expect(await redis.hexists(keys.lead(leadId), IDLE_MARK)).toBe(1);
    const store = { db: stack.db, redis, redisPrefix: stack.config.REDIS_PREFIX };
    const current = await readRuleSet(stack.db);
    const rules = current.rules.map((rule) =>
      rule.event_type === "small" ? { ...rule, points: rule.points * 2 } : rule,
    );
    const options = { source: "draft", mode: "retroactive", webhooks: "suppress" } as const;
    const version = await publishRuleSet(store, { rules, groups: current.groups }, options);
    const generation = (await redis.get(keys.gen)) as string;
    const rescorer = createRescorer({
      ...rebuildOptionsOf(stack, redis),
      prefix: stack.config.REDIS_PREFIX,
      generation: () => generation,
      encodeUpdates: () => new Map(),
    });
    const job = queuedRescore("idle-rescore", version);
    await rescorer.run(job, new AbortController().signal, async () => false);
    expect(await redis.hexists(keys.lead(leadId), IDLE_MARK)).toBe(0);
    const history = await historyOf(stack, leadId);
    expect(history.map((entry) => entry.event_id)).toEqual(before.history.map((entry) => entry.event_id));
    expect(history.every((entry) => entry.rules_version === version)).toBe(true);
    expect(await auditAll(stack)).toEqual([]);
  }, 120_000);
});
