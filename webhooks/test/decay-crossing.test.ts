// The decay crossing through the clients that see it: with a half-life of 5 s set through `PUT /api/scoring`, a lead
// scored 320 (hot) turns warm 466 ms later with no event — a socket.io client subscribed to it through a realtime
// server gets the `score_update`, a webhook receiver gets `lead.stage_changed` with `cause: "decay"` through the
// dispatcher, and `stage=hot` stops listing it while `stage=warm` lists it; the same after the worker restarts, and
// when the worker is down at the crossing instant. The lead's history lists the crossing as a decay entry.
import { crossingInstant, decayKey, parseConfig, RealtimeConfigSchema } from "@leadscore/contracts";
import { createRealtimeServer, type RealtimeServer } from "@leadscore/realtime";
import { silentLogger } from "@leadscore/runtime";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { eventually, REDIS_URL, TEST_READ_TOKEN } from "../../test-support/index.ts";
import { type ClientSocket, connected, record } from "../../test-support/realtime-cluster.ts";
import { createReceiver, type Receiver } from "../../test-support/webhook-receiver.ts";
import { queued } from "../../test-support/worker-stack.ts";
import { createHookStack, type HookStack } from "./helpers.ts";

const H = 5;
const HOT = 300;

let hooks: HookStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;
/** An edge answering reads at `pinned`, to check the lists either side of a crossing whatever the box's pace. */
let pinnedEdge: Awaited<ReturnType<typeof createDecayEdge>>;
let pinned = 0;
let realtime: RealtimeServer;
let realtimeUrl: string;
let receiver: Receiver;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  hooks = await createHookStack({ worker: false });
  const { stack } = hooks;
  edge = await createDecayEdge(stack);
  expect((await edge.send("PUT", "/api/scoring", { half_life_seconds: H })).status).toBe(200);
  for (const [type, points] of [
    ["hot", 320],
    ["hotter", 500],
  ] as const) {
    expect((await edge.send("POST", "/api/rules", { _id: type, event_type: type, points })).status).toBe(201);
  }
  pinnedEdge = await createDecayEdge(stack, () => pinned);
  receiver = await createReceiver();
  await hooks.subscribe(receiver.url, ["lead.stage_changed"]);
  hooks.startDispatcher();
  realtime = createRealtimeServer(
    parseConfig(RealtimeConfigSchema, {
      NODE_ENV: "test",
      REDIS_URL,
      MONGO_URL: stack.config.MONGO_URL,
      REDIS_PREFIX: stack.config.REDIS_PREFIX,
      READ_TOKENS: TEST_READ_TOKEN,
      ADMIN_TOKEN: "test-admin-token",
    }),
    silentLogger,
  );
  realtimeUrl = `http://127.0.0.1:${await realtime.listen(0)}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await realtime?.close();
  await receiver?.close();
  edge?.close();
  pinnedEdge?.close();
  await hooks?.close();
});

async function subscribed(leadId: string) {
  const socket: ClientSocket = io(realtimeUrl, {
    transports: ["websocket"],
    forceNew: true,
    auth: { token: TEST_READ_TOKEN },
  });
  sockets.push(socket);
  const updates = record(socket, "score_update");
  await connected(socket);
  expect(await socket.emitWithAck("subscribe", { lead_id: leadId })).toEqual({ ok: true });
  return updates;
}

const listed = async (stage: "hot" | "warm", reader = edge) =>
  ((await (await reader.read(`/api/leads?stage=${stage}&limit=100`)).json()) as { _id: string }[]).map(
    (lead) => lead._id,
  );

/** Scores `leadId` with one `type` event, sees it hot on its socket, and returns what the crossing must look like. */
async function scoreHot(leadId: string, type: "hot" | "hotter") {
  const points = type === "hot" ? 320 : 500;
  const updates = await subscribed(leadId);
  const at = Date.now();
  await hooks.stack.send([queued(leadId, `${leadId}-e`, type, at)]);
  const hot = await eventually(async () => updates.find((update) => update.payload.stage === "hot"), 10_000);
  expect(hot.payload).toMatchObject({ lead_id: leadId, current_score: points, event_id: `${leadId}-e` });
  return { updates, instant: crossingInstant(decayKey(points, at, H), HOT, at, H) };
}

/** Follows `leadId`, through every client, until time has made it warm at `instant`. */
async function watchCool(leadId: string, { updates, instant }: Awaited<ReturnType<typeof scoreHot>>) {
  const cooled = await eventually(async () => updates.find((update) => update.payload.stage === "warm"), 10_000);
  expect(cooled.payload).toMatchObject({ lead_id: leadId, event_type: "decay" });
  expect(cooled.payload.current_score).toBeLessThan(HOT);
  expect(Date.parse(cooled.payload.timestamp)).toBe(instant);

  const decayed = () =>
    receiver.received.filter((request) => request.json.data.lead_id === leadId && request.json.data.cause === "decay");
  const hook = await eventually(async () => decayed()[0], 10_000);
  expect(hook.json).toMatchObject({
    type: "lead.stage_changed",
    data: { lead_id: leadId, from_stage: "hot", to_stage: "warm", cause: "decay" },
  });
  expect(hook.json.data.score as number).toBeLessThan(HOT);
  expect(decayed()).toHaveLength(1);

  expect(await listed("hot")).not.toContain(leadId);
  expect(await listed("warm")).toContain(leadId);
  // The history shows the crossing as a decay entry at its instant, after the one event.
  const history = (await (await edge.read(`/api/leads/${leadId}/history`)).json()) as Record<string, unknown>[];
  expect(history.map((entry) => [entry.event_id, entry.cause, entry.timestamp])).toEqual([
    ["decay:warm", "decay", new Date(instant).toISOString()],
    [`${leadId}-e`, "event", expect.any(String)],
  ]);
  // Nothing but the one event was ever scored for it.
  expect(updates.filter((update) => update.payload.event_type !== "decay").map((u) => u.payload.event_id)).toEqual([
    `${leadId}-e`,
  ]);
}

async function restartWorker() {
  for (const worker of hooks.stack.workers.splice(0)) await worker.close();
  await hooks.stack.startWorker({ rulesReloadMs: 3_600_000 });
}

describe("when a lead scored 320 decays past 300 with a half-life of 5 s", () => {
  it("reaches a subscribed socket, a webhook receiver and the stage lists at 466 ms, with no event", async () => {
    await restartWorker();
    const scored = await scoreHot("done-1", "hot");
    expect(scored.instant - Date.parse(scored.updates[0]?.payload.timestamp ?? "")).toBe(466);
    pinned = scored.instant - 1;
    expect(await listed("hot", pinnedEdge)).toContain("done-1");
    expect(await listed("warm", pinnedEdge)).not.toContain("done-1");
    pinned = scored.instant;
    expect(await listed("hot", pinnedEdge)).not.toContain("done-1");
    expect(await listed("warm", pinnedEdge)).toContain("done-1");
    await watchCool("done-1", scored);
  });

  it("does the same after the worker restarts", async () => {
    await restartWorker();
    await watchCool("done-2", await scoreHot("done-2", "hot"));
  });
});

describe("when the worker is down at the crossing instant", () => {
  it("announces the crossing, at its instant, once a worker starts again", async () => {
    await restartWorker();
    // 500 crosses 300 at 3.68 s: the worker is stopped well before and started after.
    const scored = await scoreHot("done-3", "hotter");
    for (const worker of hooks.stack.workers.splice(0)) await worker.close();
    expect(Date.now()).toBeLessThan(scored.instant);
    await eventually(async () => Date.now() > scored.instant + 200, 10_000);
    expect(scored.updates.some((update) => update.payload.stage === "warm")).toBe(false);
    // Reads are exact at the instant asked, with or without a worker.
    expect(await listed("hot")).not.toContain("done-3");
    expect(await listed("warm")).toContain("done-3");
    await hooks.stack.startWorker({ rulesReloadMs: 3_600_000 });
    await watchCool("done-3", scored);
  });
});
