// Where a preview reads its events: a draft that reads no metadata is folded from the live state (tails, and the
// settled pages by id), never from the `events` collection; a draft that reads metadata streams the stored events.
// Either way the numbers are those of a direct computation over the stored events.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type QueuedEvent,
  type RuleV2,
  type ScorableEvent,
  toScorable,
} from "@leadscore/contracts";
import { Redis } from "ioredis";
import type { Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  previewOptions,
  queued,
  T0,
  TEST_RULES,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { runPreview } from "../src/preview.ts";

/** Three leads long enough to have settled pages, and forty short ones; demo requests alternate channels. */
function events(): QueuedEvent[] {
  const list: QueuedEvent[] = [];
  const types = ["page_view", "demo_request", "email_open", "unsubscribe", "demo_request"];
  const add = (lead: string, count: number) => {
    for (let n = 0; n < count; n++) {
      const type = types[n % types.length] as string;
      list.push(queued(lead, `${lead}-${n}`, type, T0 + n * 60_000, { channel: n % 2 === 0 ? "ads" : "mail" }));
    }
  };
  for (let i = 0; i < 3; i++) add(`long-${i}`, 170 + i * 40);
  for (let i = 0; i < 40; i++) add(`short-${String(i).padStart(2, "0")}`, 1 + (i % 9));
  return list;
}

/** The rules of the stack, demo_request's replaced by `demo`. */
function draftWith(demo: Partial<RuleV2>): { rules: RuleV2[]; groups: [] } {
  const rules = TEST_RULES.map(({ _id, event_type, points, active, label }) => ({
    _id,
    event_type,
    points,
    active,
    label,
    ...(event_type === "demo_request" && demo),
  }));
  return { rules, groups: [] };
}

/** A database whose `events` collection cannot be read: what a preview must not touch. */
function withoutEvents(db: Db): Db {
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property !== "collection") return Reflect.get(target, property, receiver);
      return (name: string, ...rest: unknown[]) => {
        if (name === COLLECTIONS.events) throw new Error("the events collection was read");
        return (target.collection as (...args: unknown[]) => unknown).call(target, name, ...rest);
      };
    },
  });
}

describe("previewing leads whose histories span settled pages", () => {
  let stack: TestStack;
  let redis: Redis;
  let stored: ScorableEvent[];
  beforeAll(async () => {
    stack = await createStack();
    await stack.startWorker();
    await stack.send(events());
    await stack.drained();
    redis = new Redis(REDIS_URL);
    stored = (await stack.db.collection<EventDocument>(COLLECTIONS.events).find({}).toArray()).map(toScorable);
  }, 120_000);
  afterAll(async () => {
    redis?.disconnect();
    await stack?.close();
  });

  const options = (db: Db) => previewOptions(stack, redis, db);

  /** Leads whose score changes when each demo request is worth `points(event)`, folded from the stored events. */
  function expected(points: (event: ScorableEvent) => number) {
    const byLead = new Map<string, ScorableEvent[]>();
    for (const event of stored) byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), event]);
    const cap = stack.config.SCORE_CAP;
    let changed = 0;
    const scores = new Map<string, { before: number; after: number }>();
    for (const [lead, list] of byLead) {
      const before = foldScores(list, cap).score;
      const after = foldScores(
        list.map((event) => (event.event_type === "demo_request" ? { ...event, points: points(event) } : event)),
        cap,
      ).score;
      if (after !== before) changed += 1;
      scores.set(lead, { before, after });
    }
    return { counts: { leads: byLead.size, events: stored.length, changed }, scores };
  }

  it("folds a draft that reads no metadata from the live state alone", async () => {
    expect(await auditAll(stack)).toEqual([]);
    const pages = await stack.db.collection(COLLECTIONS.historyPages).countDocuments({});
    expect(pages).toBeGreaterThan(3);
    const result = await runPreview(
      options(withoutEvents(stack.db)),
      draftWith({ points: 20 }),
      new AbortController().signal,
      async () => false,
    );
    const { counts, scores } = expected(() => 20);
    expect({ leads: result.leads, events: result.events, changed: result.changed }).toEqual(counts);
    // The long leads, whose older events are in pages, are folded whole.
    const long = result.movers.filter((mover) => mover.lead_id.startsWith("long-"));
    expect(long.map((mover) => mover.lead_id).sort()).toEqual(["long-0", "long-1", "long-2"]);
    for (const mover of result.movers) {
      expect({ before: mover.before, after: mover.after }).toEqual(scores.get(mover.lead_id));
    }
  });

  it("streams the stored events for a draft that reads metadata", async () => {
    const draft = draftWith({ where: { field: "metadata.channel", op: "eq", value: "ads" } });
    const result = await runPreview(options(stack.db), draft, new AbortController().signal, async () => false);
    const channels = new Map(events().map((event) => [event.event_id, event.metadata?.channel]));
    const ads = (event: ScorableEvent) => (channels.get(event.event_id) === "ads" ? 50 : 0);
    expect({ leads: result.leads, events: result.events, changed: result.changed }).toEqual(expected(ads).counts);
    await expect(
      runPreview(options(withoutEvents(stack.db)), draft, new AbortController().signal, async () => false),
    ).rejects.toThrow("the events collection was read");
  });
});
