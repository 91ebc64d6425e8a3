// A preview of a draft rule set, end to end: the edge queues it, a worker runs it over the stored events, and its
// numbers match a direct computation (the v1 fold of each lead's events with the draft's points) while nothing live
// moves.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type QueuedEvent,
  type ScorableEvent,
  STAGES,
  type Stage,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { createStackEdge } from "../../test-support/stack-edge.ts";
import {
  auditAll,
  createStack,
  leadOf,
  previewOptions,
  queued,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { runPreview } from "../src/preview.ts";

const LEADS = 120;

/** Lead i: i % 4 demo requests, i % 7 page views, a purchase when i % 3 is 0 and a form when i % 5 is 0. */
function events(): QueuedEvent[] {
  const list: QueuedEvent[] = [];
  for (let i = 0; i < LEADS; i++) {
    const lead = `lead-${String(i).padStart(3, "0")}`;
    const types = [
      ...Array.from({ length: i % 4 }, () => "demo_request"),
      ...Array.from({ length: i % 7 }, () => "page_view"),
      ...(i % 3 === 0 ? ["purchase"] : []),
      ...(i % 5 === 0 ? ["form_submission"] : []),
    ];
    types.forEach((type, n) => {
      list.push(queued(lead, `${lead}-${n}`, type, T0 + ((n * 7 + i) % 13) * 60_000, { n }));
    });
  }
  return list;
}

type Preview = {
  id: string;
  state: string;
  progress: { phase: string; events_total: number; events_read: number; events_done: number; leads_done: number };
  result?: {
    leads: number;
    events: number;
    changed: number;
    stage_changes: number;
    webhooks: number;
    matrix: Record<Stage, Record<Stage, number>>;
    histogram: { before: { from: number; to: number; count: number }[]; after: { count: number }[] };
    movers: { lead_id: string; before: number; after: number; delta: number; rules: unknown[] }[];
  };
};

/** A worker stack and an edge over it for the tests of a `describe`, set up by `prepare`. */
function stackWithEdge(prepare: (stack: TestStack) => Promise<void>) {
  const held: { stack?: TestStack; edge?: ReturnType<typeof createStackEdge> } = {};
  beforeAll(async () => {
    held.stack = await createStack();
    await prepare(held.stack);
    held.edge = createStackEdge(held.stack);
  }, 120_000);
  afterAll(async () => {
    held.edge?.close();
    await held.stack?.close();
  });
  return held as Required<typeof held>;
}

describe("previewing a draft that doubles demo_request", () => {
  const held = stackWithEdge(async (stack) => {
    await stack.startWorker({ previewPollMs: 50 });
    await stack.send(events());
    await stack.drained();
  });
  const send = (method: string, path: string, body?: unknown) => held.edge.send(method, path, body);

  it("reports what a direct computation over the stored events gives, and writes nothing live", async () => {
    const { stack, edge } = held;
    const redis = edge.redis;
    expect(await auditAll(stack)).toEqual([]);
    const started = await send("POST", "/api/rule-sets/draft");
    expect(started.status).toBe(201);
    const draft = (await started.json()) as { rules: { _id: string; event_type: string; points: number }[] };
    const rules = draft.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
    expect((await send("PUT", "/api/rule-sets/draft", { rules, groups: [] })).status).toBe(200);
    const generation = await redis.get(liveKeys(stack.config.REDIS_PREFIX).gen);
    const versionBefore = (await (await send("GET", "/api/rule-sets")).json()) as unknown[];

    const queuedPreview = await send("POST", "/api/rule-sets/draft/preview");
    expect(queuedPreview.status).toBe(202);
    const { id } = (await queuedPreview.json()) as Preview;
    expect(queuedPreview.headers.get("location")).toBe(`/api/rule-sets/previews/${id}`);
    const done = await eventually(async () => {
      const preview = (await (await send("GET", `/api/rule-sets/previews/${id}`)).json()) as Preview;
      return preview.state === "queued" || preview.state === "running" ? false : preview;
    }, 60_000);

    // The direct computation: each lead's stored events folded by v1 with their points, and with demo_request's
    // doubled; the score before must also be the live one.
    const stored = await stack.db.collection<EventDocument>(COLLECTIONS.events).find({}).toArray();
    const byLead = new Map<string, ScorableEvent[]>();
    for (const event of stored.map(toScorable))
      byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), event]);
    const thresholds = stack.config.STAGE_THRESHOLDS;
    const cap = stack.config.SCORE_CAP;
    const matrix = Object.fromEntries(STAGES.map((a) => [a, Object.fromEntries(STAGES.map((b) => [b, 0]))]));
    const moves: { lead_id: string; before: number; after: number; delta: number }[] = [];
    let stageChanges = 0;
    for (const [lead, list] of byLead) {
      const before = foldScores(list, cap).score;
      const after = foldScores(
        list.map((event) => (event.event_type === "demo_request" ? { ...event, points: 100 } : event)),
        cap,
      ).score;
      expect((await leadOf(stack, lead))?.current_score).toBe(before);
      const [from, to] = [stageFor(before, thresholds), stageFor(after, thresholds)];
      (matrix[from] as Record<Stage, number>)[to] += 1;
      if (from !== to) stageChanges += 1;
      if (after !== before) moves.push({ lead_id: lead, before, after, delta: after - before });
    }
    moves.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || (a.lead_id < b.lead_id ? -1 : 1));

    expect(done.state, JSON.stringify(done)).toBe("done");
    const result = done.result as NonNullable<Preview["result"]>;
    expect(result.leads).toBe(byLead.size);
    expect(result.events).toBe(stored.length);
    expect(result.changed).toBe(moves.length);
    expect(moves.length).toBeGreaterThan(50);
    expect(stageChanges).toBeGreaterThan(10);
    expect(result.stage_changes).toBe(stageChanges);
    expect(result.webhooks).toBe(stageChanges);
    expect(result.matrix).toEqual(matrix);
    expect(result.movers.map(({ lead_id, before, after, delta }) => ({ lead_id, before, after, delta }))).toEqual(
      moves.slice(0, 50),
    );
    // Every mover's difference is demo_request's rule alone.
    expect(result.movers[0]?.rules).toEqual([{ rule_id: "demo_request", before: 150, after: 300 }]);
    const scores = [...byLead.values()].map((list) => foldScores(list, cap).score);
    expect(result.histogram.before.map((bucket) => bucket.count)).toEqual(
      result.histogram.before.map((bucket) => scores.filter((s) => s >= bucket.from && s <= bucket.to).length),
    );
    expect(result.histogram.after.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(byLead.size);
    expect(done.progress).toMatchObject({
      phase: "folding",
      events_total: stored.length,
      events_read: stored.length,
      events_done: stored.length,
      leads_done: byLead.size,
    });

    // Nothing live moved: the same generation, no new version, every lead as the stored events fold.
    expect(await redis.get(liveKeys(stack.config.REDIS_PREFIX).gen)).toBe(generation);
    expect(await (await send("GET", "/api/rule-sets")).json()).toEqual(versionBefore);
    expect(await auditAll(stack)).toEqual([]);
  }, 90_000);

  it("stops a running preview when its report says it was cancelled", async () => {
    const { stack, edge } = held;
    const redis = edge.redis;
    const options = { ...previewOptions(stack, redis), progressMs: 0 };
    let reports = 0;
    const run = runPreview(options, { rules: [], groups: [] }, new AbortController().signal, async () => {
      reports += 1;
      return true;
    });
    await expect(run).rejects.toThrow("the preview was cancelled");
    expect(reports).toBeGreaterThan(0);
  });
});

describe("when a preview is queued and no worker has taken it", () => {
  // No worker runs here, so a preview stays queued.
  const held = stackWithEdge(async () => undefined);
  const send = (method: string, path: string, body?: unknown) => held.edge.send(method, path, body);

  it("refuses a second preview, and a cancelled one frees the next", async () => {
    expect((await send("POST", "/api/rule-sets/draft")).status).toBe(201);
    const first = await send("POST", "/api/rule-sets/draft/preview");
    expect(first.status).toBe(202);
    const { id, state } = (await first.json()) as Preview;
    expect(state).toBe("queued");
    const second = await send("POST", "/api/rule-sets/draft/preview");
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: unknown }).error).toEqual({
      code: "CONFLICT",
      message: `a preview or re-score is running (${id}); try later`,
      details: [],
    });
    const cancelled = await send("DELETE", `/api/rule-sets/previews/${id}`);
    expect(cancelled.status).toBe(200);
    expect(((await cancelled.json()) as Preview).state).toBe("cancelled");
    const third = await send("POST", "/api/rule-sets/draft/preview");
    expect(third.status).toBe(202);
    expect(((await third.json()) as Preview).id).not.toBe(id);
  });

  it("answers 404 for a preview it never ran, and 400 for an id that cannot be one", async () => {
    const missing = await send("GET", "/api/rule-sets/previews/00000000-0000-4000-8000-000000000000");
    expect(missing.status).toBe(404);
    expect((await send("GET", "/api/rule-sets/previews/nope")).status).toBe(400);
  });
});
