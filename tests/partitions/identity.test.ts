// Identity merges across lead partitions: an identify or an admin merge of two leads whose ids hash to different
// partitions answers as one partition does — the root's state and history the fold of both leads' events, the merged
// id out of every list, its later events on the root exactly once without a MongoDB read, and a merge stopped between
// its two partitions' steps finished by the next pass. Six partitions on one Redis, beside one partition fed alike.

import { COLLECTIONS, type MergeRequest, parseConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { decodeOutboxMessage, liveKeys } from "@leadscore/live";
import {
  createRedis,
  EVENTS_QUEUE,
  type EventsJob,
  leadPartition,
  partitionPrefixes,
  silentLogger,
} from "@leadscore/runtime";
import {
  createDeepLane,
  createMergeRecorder,
  createWorker,
  rebuildEveryPartition,
  type Worker,
} from "@leadscore/worker";
import Queue from "bull";
import type { Redis } from "ioredis";
import { Collection } from "mongodb";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  REDIS_URL,
  TEST_READ_TOKEN,
  testEdgeConfig,
  uniqueName,
  withReadToken,
} from "../../test-support/index.ts";
import { queued } from "../../test-support/worker-stack.ts";

const P = 6;
const T0 = Date.parse("2026-01-01T10:00:00Z");
const MINUTE = 60_000;
const KEY = "test-write-key";
const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

/** The first id of the form `<stem>-<n>` whose lead lies in another partition than every id of `others`. */
function elsewhere(stem: string, others: readonly string[]): string {
  for (let n = 1; ; n += 1) {
    const id = `${stem}-${n}`;
    if (others.every((other) => leadPartition(other, P) !== leadPartition(id, P))) return id;
  }
}

const ADA = "ada";
const ANON = elsewhere("anon", [ADA]);
const BOB = elsewhere("bob", [ADA, ANON]);

interface Deployment {
  partitions: number;
  prefix: string;
  edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  worker: Worker | undefined;
  redis: Redis;
  env: Record<string, string>;
  startWorker(): Promise<Worker>;
  close(): Promise<void>;
}

async function deploy(partitions: number, options: { worker?: boolean } = {}): Promise<Deployment> {
  const database = await createTestDb();
  const prefix = uniqueName("xmerge");
  const env = {
    NODE_ENV: "test",
    REDIS_URL,
    REDIS_PREFIX: prefix,
    MONGO_URL: database.url,
    ADMIN_TOKEN: "test-admin-token",
    READ_TOKENS: TEST_READ_TOKEN,
    JOB_LOCK_MS: "2000",
    LEAD_PARTITIONS: String(partitions),
  };
  const redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
  const deployment: Deployment = {
    partitions,
    prefix,
    env,
    redis,
    worker: undefined,
    edge: undefined as unknown as Deployment["edge"],
    async startWorker() {
      const worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, {
        summaryEveryMs: 0,
        deepLaneIdleMs: 20,
        rescorePollMs: 50,
      });
      await worker.start();
      deployment.worker = worker;
      return worker;
    },
    async close() {
      await deployment.edge?.close();
      await deployment.worker?.close();
      redis.disconnect();
      for (const each of new Set([prefix, ...partitionPrefixes(prefix, partitions)])) {
        await (await createTestRedis(each)).cleanup();
      }
      await database.drop();
    },
  };
  if (options.worker !== false) await deployment.startWorker();
  deployment.edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
  return deployment;
}

const send = (d: Deployment, path: string, body: unknown, headers: Record<string, string> = {}) =>
  d.edge.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-write-key": KEY, ...headers },
    body: JSON.stringify(body),
  });
const read = async <T>(d: Deployment, path: string) =>
  (await (await d.edge.app.request(path, withReadToken())).json()) as T;

/** The key prefix of a lead's partition. */
const partitionOf = (d: Deployment, id: string) =>
  partitionPrefixes(d.prefix, d.partitions)[leadPartition(id, d.partitions)] as string;

/** Queues events straight on their lead's partition queue, past the edge's de-duplication (a copy of an id). */
async function queueDirectly(d: Deployment, events: ReturnType<typeof queued>[]) {
  for (const event of events) {
    const queue = new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix: partitionOf(d, event.lead_id) });
    await queue.add({ v: 1, events: [event] }, { removeOnComplete: true });
    await queue.close();
  }
}

interface LeadRead {
  _id: string;
  current_score: number;
  event_count: number;
  stage: string;
  merged_from?: { id: string; events: number }[];
}
interface HistoryRead {
  event_id: string;
  score: number;
  delta: number;
  cause?: string;
  rescore?: Record<string, unknown>;
}

/** Six partitions with a worker, the events sent through the edge and folded. */
async function deployWith(events: { event_id: string; lead_id: string; event_type: string; timestamp: number }[]) {
  const d = await deploy(P);
  expect((await send(d, "/api/batch", { events })).status).toBe(202);
  await eventually(async () => (await d.edge.deps.live.foldedEvents()) === events.length, 30_000);
  return d;
}

/** The lead once it holds `events` events (and, with `merged`, a merged-from list). */
const leadHolding = (d: Deployment, id: string, events: number, merged = true) =>
  eventually(async () => {
    const lead = await read<LeadRead>(d, `/api/leads/${id}`);
    return lead.event_count === events && (!merged || lead.merged_from !== undefined) && lead;
  }, 30_000);

/** Every partition's webhook outbox messages, oldest first within each partition. */
async function outbox(d: Deployment) {
  const messages = [];
  for (const prefix of new Set(partitionPrefixes(d.prefix, d.partitions))) {
    for (const [, flat] of await d.redis.xrange(liveKeys(prefix).outbox.stream, "-", "+")) {
      messages.push(decodeOutboxMessage(flat));
    }
  }
  return messages;
}

/** Reads of the `events` collection by any MongoDB client of this process while `run` runs. */
async function eventsReads(run: () => Promise<void>): Promise<number> {
  let reads = 0;
  const spies = (["find", "findOne", "aggregate", "countDocuments", "distinct"] as const).map((method) => {
    const original = Collection.prototype[method] as (...args: unknown[]) => unknown;
    return vi.spyOn(Collection.prototype, method).mockImplementation(function (this: Collection, ...args: unknown[]) {
      if (this.collectionName === COLLECTIONS.events) reads += 1;
      return original.apply(this, args);
    } as never);
  });
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return reads;
}

/**
 * The identify scenario: the anonymous lead's events (one of them an event id ada has too), ada's, the identify,
 * events for either id while it merges, then one more with the anonymous id. Returns what the API answers after.
 */
async function identifyScenario(d: Deployment) {
  const pixel = (n: number) =>
    d.edge.app.request(
      `/p.gif?${new URLSearchParams({ key: KEY, lead_id: ANON, event_type: "page_view", event_id: `pv${n}`, ts: String(T0 + n * MINUTE) })}`,
    );
  const hook = await d.edge.app.request("/api/webhooks", {
    method: "POST",
    headers: ADMIN,
    body: JSON.stringify({ url: "http://127.0.0.1:9/hook", events: ["lead.merged", "lead.stage_changed"] }),
  });
  expect(hook.status).toBe(201);
  for (const n of [1, 2, 3]) expect((await pixel(n)).status).toBe(200);
  // An event id sent with each id (the first past the edge's window): stored and counted once, under the anonymous
  // lead, and once in the merge.
  await queueDirectly(d, [queued(ANON, "shared", "page_view", T0 + 4 * MINUTE)]);
  await eventually(async () => (await d.edge.deps.live.foldedEvents()) === 4, 30_000);
  const ada = [
    { event_id: "shared", lead_id: ADA, event_type: "page_view", timestamp: T0 + 4 * MINUTE },
    { event_id: "form1", lead_id: ADA, event_type: "form_submission", timestamp: T0 + 150_000 },
    { event_id: "demo1", lead_id: ADA, event_type: "demo_request", timestamp: T0 + 5 * MINUTE },
  ];
  expect((await send(d, "/api/batch", { events: ada })).status).toBe(202);
  await eventually(async () => (await d.edge.deps.live.foldedEvents()) === 6, 30_000);
  await eventually(async () => (await d.redis.hlen(liveKeys(partitionOf(d, ADA)).deep)) === 0, 30_000);
  expect(await read<LeadRead>(d, `/api/leads/${ADA}`)).toMatchObject({ current_score: 70, stage: "cold" });

  const identify = await send(d, "/api/identify", { anonymous_id: ANON, lead_id: ADA });
  expect(identify.status).toBe(202);
  // Events for either id while the merge runs.
  expect((await pixel(6)).status).toBe(200);
  const email = { event_id: "email1", lead_id: ADA, event_type: "email_open", timestamp: T0 + 7 * MINUTE };
  expect((await send(d, "/api/events", email)).status).toBe(202);
  await eventually(async () => {
    const lead = await read<LeadRead>(d, `/api/leads/${ADA}`);
    return lead.event_count === 8 && lead.merged_from !== undefined;
  }, 30_000);
  await eventually(
    async () =>
      (await d.redis.hlen(
        liveKeys(partitionPrefixes(d.prefix, d.partitions)[leadPartition(ADA, d.partitions)] as string).deep,
      )) === 0,
    30_000,
  );

  // A later event sent with the anonymous id lands on ada once, with no read of the stored events.
  const later = await eventsReads(async () => {
    expect((await pixel(9)).status).toBe(200);
    await eventually(async () => (await read<LeadRead>(d, `/api/leads/${ADA}`)).event_count === 9, 30_000);
  });
  const lead = await read<LeadRead>(d, `/api/leads/${ADA}`);
  const history = await read<HistoryRead[]>(d, `/api/leads/${ADA}/history?order=asc&limit=200`);
  const list = await read<{ _id: string }[]>(d, "/api/leads?limit=200");
  const messages = await outbox(d);
  const { created_at: _created, updated_at: _updated, ...state } = lead as LeadRead & Record<string, unknown>;
  return {
    later,
    // What the merged id brought depends on whether the events sent meanwhile reached it before the merge.
    lead: { ...state, merged_from: lead.merged_from?.map((merged) => merged.id) },
    history: history.filter((entry) => entry.cause !== "merge").map((e) => [e.event_id, e.delta, e.score]),
    merges: history.filter((entry) => entry.cause === "merge").length,
    list: list.map((each) => each._id),
    asAnon: (await read<LeadRead>(d, `/api/leads/${ANON}`))._id,
    stats: await read<{ leads: number }>(d, "/api/stats"),
    again: (await send(d, "/api/identify", { anonymous_id: ANON, lead_id: ADA })).status,
    // An event stored under the anonymous id opens from ada.
    event: (await d.edge.app.request(`/api/leads/${ADA}/events/pv1`, withReadToken())).status,
    // An event of the merged id that reaches its deep-lane list after the merge committed is folded by a second
    // merge commit, which sends lead.merged again: as within one partition.
    merged: [...new Set(messages.filter((m) => m.type === "lead.merged").map((m) => `${m.lead}<${m.from}`))],
    stageChanges: messages.filter((m) => m.type === "lead.stage_changed").map((m) => [m.lead, m.from, m.to]),
  };
}

/** Publishes the current rules with `type` at `points`, retroactively, and waits for its re-score to end. */
async function publishRetroactively(d: Deployment, type: string, points: number): Promise<number> {
  const call = (method: string, path: string, body?: unknown) =>
    d.edge.app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
  expect((await call("POST", "/api/rule-sets/draft")).status).toBe(201);
  const draft = (await (await call("GET", "/api/rule-sets/draft")).json()) as {
    rules: { event_type: string; points: number }[];
  };
  const rules = draft.rules.map((rule) => (rule.event_type === type ? { ...rule, points } : rule));
  expect((await call("PUT", "/api/rule-sets/draft", { rules, groups: [] })).status).toBe(200);
  const response = await call("POST", "/api/rule-sets/draft/publish", { mode: "retroactive" });
  expect(response.status).toBe(202);
  const published = (await response.json()) as { version: number; rescore: { id: string } };
  await eventually(async () => {
    const job = (await (await call("GET", `/api/rule-sets/rescores/${published.rescore.id}`)).json()) as {
      state: string;
    };
    return job.state === "done";
  }, 60_000);
  return published.version;
}

/** The root's history as its entries' ids, causes, deltas, scores and re-score details, and its re-score log's fields. */
async function rescoredHistory(d: Deployment) {
  const history = await read<HistoryRead[]>(d, `/api/leads/${ADA}/history?order=asc&limit=200`);
  return {
    log: Object.keys(await d.redis.hgetall(liveKeys(partitionOf(d, ADA)).rescoreLog(ADA))).sort(),
    history: history.map(({ event_id, cause, delta, score, rescore }) => ({ event_id, cause, delta, score, rescore })),
  };
}

/**
 * A retroactive publish that moves both leads (purchases from 100 to 150 points), then the identify of the anonymous
 * lead as ada: what ada's history and re-score log hold once the merge is folded.
 */
async function rescoredMergeScenario(d: Deployment) {
  const events = [
    { event_id: "p1", lead_id: ANON, event_type: "purchase", timestamp: T0 + MINUTE },
    { event_id: "p2", lead_id: ANON, event_type: "purchase", timestamp: T0 + 2 * MINUTE },
    { event_id: "p3", lead_id: ADA, event_type: "purchase", timestamp: T0 + 3 * MINUTE },
    { event_id: "v1", lead_id: ADA, event_type: "page_view", timestamp: T0 + 4 * MINUTE },
  ];
  expect((await send(d, "/api/batch", { events })).status).toBe(202);
  await eventually(async () => (await d.edge.deps.live.foldedEvents()) === events.length, 30_000);
  const version = await publishRetroactively(d, "purchase", 150);
  expect((await send(d, "/api/identify", { anonymous_id: ANON, lead_id: ADA })).status).toBe(202);
  expect(await leadHolding(d, ADA, 4)).toMatchObject({ current_score: 455, merged_from: [{ id: ANON, events: 2 }] });
  await eventually(async () => (await d.redis.hlen(liveKeys(partitionOf(d, ADA)).deep)) === 0, 30_000);
  // The merged lead's own log is left in neither partition: its records are the root's now.
  const left = await d.redis.exists(
    liveKeys(partitionOf(d, ANON)).rescoreLog(ANON),
    liveKeys(partitionOf(d, ADA)).rescoreLog(ANON),
  );
  return { version, left, ...(await rescoredHistory(d)) };
}

describe("an identify of leads in two lead partitions", () => {
  let deployments: Deployment[] = [];
  afterEach(async () => {
    for (const d of deployments) await d.close();
    deployments = [];
  });

  it("answers as one partition does: the union folded once, the merged id followed, later events on the root", async () => {
    expect(leadPartition(ANON, P)).not.toBe(leadPartition(ADA, P));
    const six = await deploy(P);
    const one = await deploy(1);
    deployments = [six, one];
    // The socket room of the anonymous lead is told to follow ada.
    const subscriber = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
    const published: string[] = [];
    subscriber.on("pmessageBuffer", (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
      published.push(message.toString("latin1"));
    });
    await subscriber.psubscribe(`${six.prefix}*`);
    try {
      const [apart, together] = [await identifyScenario(six), await identifyScenario(one)];
      expect(apart.history).toEqual([
        ["pv1", 5, 5],
        ["pv2", 5, 10],
        ["form1", 20, 30],
        ["pv3", 5, 35],
        ["shared", 5, 40],
        ["demo1", 50, 90],
        ["pv6", 5, 95],
        ["email1", 10, 105],
        ["pv9", 5, 110],
      ]);
      expect(apart.lead).toMatchObject({ _id: ADA, current_score: 110, event_count: 9, stage: "warm" });
      expect(apart.lead.merged_from).toEqual([ANON]);
      expect(apart.list).toEqual([ADA]);
      expect(apart.asAnon).toBe(ADA);
      expect(apart.stats).toMatchObject({ leads: 1 });
      expect(apart.again).toBe(200);
      expect(apart.event).toBe(200);
      expect(apart.later).toBe(0);
      expect(apart.merged).toEqual([`${ADA}<${ANON}`]);
      expect(apart.stageChanges).toEqual([[ADA, "cold", "warm"]]);
      expect(apart.merges).toBe(1);
      // Six partitions answer as one.
      expect(apart).toEqual(together);
      expect(published.some((message) => message.includes("lead_merged") && message.includes(ANON))).toBe(true);
    } finally {
      subscriber.disconnect();
    }
  }, 120_000);

  it("carries the merged lead's re-score entries into its root's history, as one partition and a rebuild do", async () => {
    const six = await deploy(P);
    const one = await deploy(1);
    deployments = [six, one];
    const [apart, together] = [await rescoredMergeScenario(six), await rescoredMergeScenario(one)];
    const { version } = apart;
    expect(apart.log).toEqual([String(version), `${version}:${ANON}`]);
    expect(apart.left).toBe(0);
    const rescores = apart.history.filter((entry) => entry.cause === "rescore");
    expect(rescores.map((entry) => [entry.event_id, entry.rescore])).toEqual([
      [
        `rescore:${version}`,
        expect.objectContaining({ score_before: 105, score_after: 155, stage_before: "warm", stage_after: "warm" }),
      ],
      [
        `rescore:${version}:${ANON}`,
        expect.objectContaining({
          score_before: 200,
          score_after: 300,
          stage_before: "warm",
          stage_after: "hot",
          merged_id: ANON,
        }),
      ],
    ]);
    // Six partitions answer as one.
    expect(apart).toEqual(together);

    // A rebuild lays the same log out from MongoDB (the merge entry knows no scores either side after it).
    await six.worker?.close();
    six.worker = undefined;
    await rebuildEveryPartition({
      db: six.edge.deps.db,
      redis: six.redis,
      redisPrefix: six.prefix,
      partitions: P,
      cap: six.edge.deps.config.SCORE_CAP,
      thresholds: six.edge.deps.config.STAGE_THRESHOLDS,
      log: silentLogger,
    });
    const rebuilt = await rescoredHistory(six);
    const withoutMerge = ({ log, history }: typeof rebuilt) => ({
      log,
      history: history.filter((entry) => entry.cause !== "merge"),
    });
    expect(withoutMerge(rebuilt)).toEqual(withoutMerge(apart));
  }, 180_000);

  it("merges a known lead into another across partitions with the admin token, guards unchanged", async () => {
    const events = [
      { event_id: "a1", lead_id: ADA, event_type: "demo_request", timestamp: T0 + MINUTE },
      { event_id: "b1", lead_id: BOB, event_type: "purchase", timestamp: T0 + 2 * MINUTE },
      { event_id: "b2", lead_id: BOB, event_type: "page_view", timestamp: T0 + 3 * MINUTE },
    ];
    const six = await deployWith(events);
    deployments = [six];
    for (const [id, name] of [
      [ADA, "Ada"],
      [BOB, "Bob"],
    ] as const) {
      const put = await six.edge.app.request(`/api/leads/${id}`, {
        method: "PATCH",
        headers: ADMIN,
        body: JSON.stringify({ name, email: `${name.toLowerCase()}@example.com`, company: "Example" }),
      });
      expect(put.status).toBe(200);
    }
    // A known lead is no anonymous one: the write key cannot merge it.
    expect((await send(six, "/api/identify", { anonymous_id: BOB, lead_id: ADA })).status).toBe(409);
    expect((await send(six, "/api/identify", { anonymous_id: "null", lead_id: ADA })).status).toBe(400);
    const merge = await six.edge.app.request(`/api/leads/${ADA}/merge`, {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ from: BOB, reason: "same person" }),
    });
    expect(merge.status).toBe(202);
    const lead = await leadHolding(six, ADA, 3);
    expect(lead).toMatchObject({ current_score: 155, merged_from: [{ id: BOB, events: 2 }] });
    expect((await read<{ _id: string }[]>(six, "/api/leads?limit=200")).map((each) => each._id)).toEqual([ADA]);
    expect((await read<{ _id: string }[]>(six, "/api/leads?q=bob")).map((each) => each._id)).toEqual([]);
    expect((await read<LeadRead>(six, `/api/leads/${BOB}`))._id).toBe(ADA);
    // Merged already: the same merge again is a 200 no-op, a merge into another lead a conflict.
    const again = await six.edge.app.request(`/api/leads/${ADA}/merge`, {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ from: BOB, reason: "same person" }),
    });
    expect(again.status).toBe(200);
    const record = await six.edge.deps.db.collection(COLLECTIONS.identities).findOne({ _id: BOB as never });
    expect(record).toMatchObject({ into: ADA, kind: "admin", reason: "same person" });
  }, 120_000);

  it("follows a chain of merges over three partitions: the first merged id resolves to the last root in one hop", async () => {
    const visitor = elsewhere("visitor", [ADA, BOB]);
    const events = [
      { event_id: "v1", lead_id: visitor, event_type: "page_view", timestamp: T0 + MINUTE },
      { event_id: "b1", lead_id: BOB, event_type: "form_submission", timestamp: T0 + 2 * MINUTE },
      { event_id: "a1", lead_id: ADA, event_type: "demo_request", timestamp: T0 + 3 * MINUTE },
    ];
    const six = await deployWith(events);
    deployments = [six];
    expect((await send(six, "/api/identify", { anonymous_id: visitor, lead_id: BOB })).status).toBe(202);
    await eventually(async () => (await read<LeadRead>(six, `/api/leads/${BOB}`)).event_count === 2, 30_000);
    const merge = await six.edge.app.request(`/api/leads/${ADA}/merge`, {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ from: BOB, reason: "same person" }),
    });
    expect(merge.status).toBe(202);
    await eventually(
      async () => (await six.redis.hget(liveKeys(partitionOf(six, visitor)).aliases, visitor)) === ADA,
      30_000,
    );
    expect((await read<LeadRead>(six, `/api/leads/${visitor}`))._id).toBe(ADA);
    expect((await send(six, "/api/identify", { anonymous_id: visitor, lead_id: ADA })).status).toBe(200);
    const later = { event_id: "v2", lead_id: visitor, event_type: "page_view", timestamp: T0 + 4 * MINUTE };
    expect((await send(six, "/api/events", later)).status).toBe(202);
    const lead = await leadHolding(six, ADA, 4, false);
    expect(lead).toMatchObject({ current_score: 80 });
    expect((await read<{ _id: string }[]>(six, "/api/leads?limit=200")).map((each) => each._id)).toEqual([ADA]);
  }, 120_000);

  it("finishes a merge stopped between the merged lead's hand-off and its root's partition taking it", async () => {
    const events = [
      { event_id: "pv1", lead_id: ANON, event_type: "page_view", timestamp: T0 + MINUTE },
      { event_id: "pv2", lead_id: ANON, event_type: "purchase", timestamp: T0 + 3 * MINUTE },
      { event_id: "f1", lead_id: ADA, event_type: "form_submission", timestamp: T0 + 2 * MINUTE },
    ];
    const six = await deployWith(events);
    deployments = [six];
    await six.worker?.close();
    six.worker = undefined;

    // The merge recorded and the anonymous lead handed off by its partition's deep lane, which stops right there.
    const prefixes = partitionPrefixes(six.prefix, P);
    const keysFor = (id: string) => liveKeys(prefixes[leadPartition(id, P)] as string);
    const keys = keysFor(ANON);
    const config = parseConfig(WorkerConfigSchema, six.env);
    const db = six.edge.deps.db;
    const generation = (await six.redis.get(keys.gen)) as string;
    const request: MergeRequest = { from: ANON, into: ADA, kind: "identify", at: Date.now() };
    const owns = (id: string) => leadPartition(id, P) === leadPartition(ANON, P);
    await createMergeRecorder({
      db,
      redis: six.redis,
      keys,
      generation: () => generation,
      log: silentLogger,
      owns,
    }).apply([request]);
    const lane = createDeepLane({
      db,
      redis: six.redis,
      keys,
      generation: () => generation,
      cap: config.SCORE_CAP,
      thresholds: config.STAGE_THRESHOLDS,
      encodeUpdates: () => new Map(),
      log: silentLogger,
      partitions: { owns, keysFor },
      beforeDelivery: async () => {
        throw new Error("stopped between the two partitions' steps");
      },
    });
    await expect(lane.runOnce()).rejects.toThrow("stopped between");
    await lane.stop();
    expect(await six.redis.hexists(keys.handOff, ANON)).toBe(1);
    expect((await read<{ _id: string }[]>(six, "/api/leads?limit=200")).map((each) => each._id)).toEqual([ADA]);

    // The next worker delivers the waiting hand-off: the exact result.
    await six.startWorker();
    const lead = await leadHolding(six, ADA, 3);
    expect(lead).toMatchObject({ current_score: 125, merged_from: [{ id: ANON, events: 2 }] });
    const history = await read<HistoryRead[]>(six, `/api/leads/${ADA}/history?order=asc&limit=200`);
    expect(history.filter((entry) => entry.cause !== "merge").map((entry) => [entry.event_id, entry.score])).toEqual([
      ["pv1", 5],
      ["f1", 25],
      ["pv2", 125],
    ]);
    expect(await six.redis.hexists(keys.handOff, ANON)).toBe(0);
  }, 120_000);
});
