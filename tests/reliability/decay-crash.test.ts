// Stage changes caused by time, with the worker that commits them SIGKILLed mid-way: twice, each time while a burst of
// leads is crossing a threshold (more leads than one commit call takes). The next worker takes the ticker's lock once it
// runs out and runs the interval again from the `through` the killed one left; every crossing must be announced
// exactly once (a `lead.stage_changed` message with cause decay and a movement, from the same script call as the stage
// change and its `score_update`), and the live state must be the exact fold of the stored events with decay.
import { COLLECTIONS, DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS, type RuleDocument } from "@leadscore/contracts";
import { liveKeys, movementKey } from "@leadscore/live";
import { writeScoringSettings } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { auditScores } from "./audit.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";

const H = 5;
const LEADS = 1_500;
/** Each lead scores 300 + 1…30 at one instant: it leaves hot within 0.7 s of it, and warm 7.9–8.6 s after it. */
const BUMPS = 30;

const sleepUntil = (t: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));

describe("when the worker committing decay crossings is killed mid-way, twice", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack();
    const at = new Date();
    const rules: Omit<RuleDocument, "created_at" | "updated_at">[] = [
      { _id: "base", event_type: "base", points: 300, active: true, label: "Base" },
      ...Array.from({ length: BUMPS }, (_, i) => ({
        _id: `bump_${i + 1}`,
        event_type: `bump_${i + 1}`,
        points: i + 1,
        active: true,
        label: `Bump ${i + 1}`,
      })),
    ];
    await stack.db
      .collection<RuleDocument>(COLLECTIONS.rules)
      .insertMany(rules.map((rule) => ({ ...rule, created_at: at, updated_at: at })));
    await writeScoringSettings(stack.db, { half_life_seconds: H }, at);
    // As an active subscription to stage changes would ask: the commits then write their messages to the outbox.
    await stack.redis.set(liveKeys(stack.prefix).outbox.wants, "s");
  }, 90_000);
  afterAll(() => stack?.stop(), 60_000);

  it("announces every crossing once, and the audit with decay finds the fold exact", async () => {
    await stack.startWorker();
    // Far enough ahead for every lead to be scored (and filed hot) before the first crossing; about 450 leads cross
    // per turn of the ticker then, more than one commit call takes.
    const at = Date.now() + 15_000;
    const acknowledged = new Set<string>();
    const events = Array.from({ length: LEADS }, (_, i) => {
      const lead = `decay-crash-${i}`;
      const base = { lead_id: lead, timestamp: at, received_at: Date.now(), metadata: {} };
      return [
        { ...base, event_id: `${lead}-base`, event_type: "base" },
        { ...base, event_id: `${lead}-bump`, event_type: `bump_${(i % BUMPS) + 1}` },
      ];
    }).flat();
    for (let from = 0; from < events.length; from += 100) {
      const slice = events.slice(from, from + 100);
      await stack.queue.add({ v: 1, events: slice });
      for (const event of slice) acknowledged.add(event.event_id);
    }
    const keys = liveKeys(stack.prefix);
    await eventually(async () => (await stack.redis.zcard(keys.byScore)) === LEADS, 30_000);
    expect(Date.now()).toBeLessThan(at);

    // Mid-way through the hot → warm burst, and again through the warm → cold one.
    for (const [index, killAt] of [at + 300, at + 8_200].entries()) {
      await sleepUntil(killAt);
      await stack.killWorker(index);
      await stack.startWorker();
    }
    const stages = async () => {
      const pipeline = stack.redis.pipeline();
      for (let i = 0; i < LEADS; i += 1) pipeline.hget(keys.lead(`decay-crash-${i}`), "st");
      return ((await pipeline.exec()) ?? []).map(([, stage]) => stage);
    };
    await eventually(async () => (await stages()).every((stage) => stage === "cold"), 60_000);

    const announced = new Map<string, string[]>();
    const outbox = (await stack.redis.xrange(keys.outbox.stream, "-", "+")) as [string, string[]][];
    for (const [, fields] of outbox) {
      const message = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) message.set(fields[i] as string, fields[i + 1] as string);
      if (message.get("type") !== "lead.stage_changed" || message.get("etype") !== "decay") continue;
      const lead = message.get("lead") as string;
      announced.set(lead, [...(announced.get(lead) ?? []), `${message.get("from")}>${message.get("to")}`]);
    }
    const wrong = [...Array(LEADS).keys()]
      .map((i) => `decay-crash-${i}`)
      .filter((lead) => (announced.get(lead) ?? []).join(",") !== "hot>warm,warm>cold");
    expect(wrong.map((lead) => `${lead}: ${(announced.get(lead) ?? []).join(",")}`)).toEqual([]);
    // Kept once with the week's stage changes too (GET /api/movements), by the same script call.
    for (const stage of ["warm", "cold"] as const) {
      const moved = (await stack.redis.xrange(movementKey(stack.prefix, stage), "-", "+")) as [string, string[]][];
      const leads = moved.map(([, fields]) => fields[fields.indexOf("lead") + 1]);
      expect(leads).toHaveLength(LEADS);
      expect(new Set(leads).size).toBe(LEADS);
    }

    const report = await auditScores(
      { db: stack.db, redis: stack.redis, redisPrefix: stack.prefix },
      acknowledged,
      DEFAULT_SCORE_CAP,
      DEFAULT_STAGE_THRESHOLDS,
      H,
    );
    expect(report.problems).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.phantoms).toEqual([]);
    expect(report.scored).toBe(2 * LEADS);
  }, 180_000);
});
