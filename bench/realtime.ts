// Realtime benchmark: latency from a score change to the `score_update` on dashboard sockets, at a steady rate, with
// many sockets spread over two realtime instances (separate processes, joined by the Redis adapter).
//
//   npm run bench:realtime                 # publish → socket: a worker-side publisher emits through Redis
//   npm run bench:realtime -- --e2e        # accepted → socket: POST /api/events to an edge, scored by a worker
//
// Options: --rate (events/s, 1000), --duration (s, 15), --sockets (1000), --leads (100).
// Beside it, in the same run, raw Redis pub/sub at the same rate gives the baseline the ratio is measured against.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  type ClientToServerEvents,
  realtimeChannelKey,
  type ScoreUpdate,
  type ServerToClientEvents,
  stageFor,
} from "@leadscore/contracts";
import { createLiveReader } from "@leadscore/live";
import { quantile, silentLogger } from "@leadscore/runtime";
import { createScorePublisher, encodeScoreUpdates } from "@leadscore/worker";
import { Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { createTestDb, createTestRedis, REDIS_URL, uniqueName } from "../test-support/index.ts";
import { createLiveSeeder } from "../test-support/live.ts";
import {
  BIN,
  DENO_EDGE_ARGS,
  loggedPort,
  NODE_TS,
  type RunningProcess,
  startProcess,
  WORKER_ARGS,
} from "../test-support/processes.ts";

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const { values: args } = parseArgs({
  options: {
    e2e: { type: "boolean", default: false },
    rate: { type: "string", default: "1000" },
    duration: { type: "string", default: "15" },
    sockets: { type: "string", default: "1000" },
    leads: { type: "string", default: "100" },
  },
});
const RATE = Number(args.rate);
const DURATION_S = Number(args.duration);
const SOCKETS = Number(args.sockets);
const LEADS = Number(args.leads);
const WRITE_KEY = "bench-write-key";
const READ_TOKEN = "bench-read-token";
/** Time allowed after the last event for its deliveries to arrive. */
const DRAIN_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const leadId = (index: number) => `bench-lead-${index % LEADS}`;

interface Row {
  measure: string;
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
function summarize(measure: string, latencies: number[]): Row {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    measure,
    samples: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Calls `send(i)` for i = 0, 1, … at `rate` per second for `seconds`, catching up in small batches. */
async function pace(rate: number, seconds: number, send: (index: number) => void): Promise<number> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    while (sent < due) send(sent++);
    await sleep(2);
  }
  return (performance.now() - start) / 1000;
}

/** Raw Redis pub/sub at the same rate: the floor under any Redis-carried delivery. */
async function measureRawRedis(seconds: number): Promise<number[]> {
  const publisher = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const channel = uniqueName("bench-raw");
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  subscriber.on("message", (_channel: string, message: string) => {
    const at = sentAt.get(message);
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  await subscriber.subscribe(channel);
  await pace(RATE, seconds, (index) => {
    const message = String(index);
    sentAt.set(message, performance.now());
    void publisher.publish(channel, message);
  });
  await sleep(500);
  publisher.disconnect();
  subscriber.disconnect();
  return latencies;
}

async function connectSockets(urls: string[], onUpdate: (update: ScoreUpdate) => void): Promise<ClientSocket[]> {
  const sockets: ClientSocket[] = [];
  for (let start = 0; start < SOCKETS; start += 100) {
    const batch = Array.from({ length: Math.min(100, SOCKETS - start) }, async (_, offset) => {
      const index = start + offset;
      const socket: ClientSocket = io(urls[index % urls.length] as string, {
        transports: ["websocket"],
        forceNew: true,
        auth: { token: READ_TOKEN },
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
      const ack = await socket.timeout(10_000).emitWithAck("subscribe", { lead_id: leadId(index) });
      if (!ack.ok) throw new Error(`subscribe refused: ${ack.error}`);
      socket.on("score_update", (update) => {
        if (!update.snapshot) onUpdate(update);
      });
    });
    await Promise.all(batch);
  }
  return sockets;
}

async function main() {
  const name = uniqueName("bench");
  const database = await createTestDb(name);
  const env = {
    NODE_ENV: "test",
    REDIS_URL,
    MONGO_URL: database.url,
    REDIS_PREFIX: name,
    LOG_LEVEL: "warn",
    WRITE_KEYS: WRITE_KEY,
    ADMIN_TOKEN: "bench-admin-token",
    READ_TOKENS: READ_TOKEN,
  };
  const processes: RunningProcess[] = [];
  const keys = await createTestRedis(name);
  const sockets: ClientSocket[] = [];
  const stopAll = async () => {
    for (const socket of sockets) socket.disconnect();
    await Promise.all(processes.map((child) => child.stop()));
    await keys.cleanup();
    await database.drop();
  };

  try {
    const urls: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const realtime = startProcess(`${BIN}/tsx`, ["realtime/src/main.ts"], {
        ...env,
        LOG_LEVEL: "info",
        REALTIME_PORT: "0",
      });
      processes.push(realtime);
      urls.push(`http://127.0.0.1:${await loggedPort(realtime, "realtime listening")}`);
    }

    let edgeUrl = "";
    if (args.e2e) {
      const edge = startProcess(`${BIN}/deno`, DENO_EDGE_ARGS, { ...env, LOG_LEVEL: "info", PORT: "0" });
      const worker = startProcess(NODE_TS[0], WORKER_ARGS, {
        ...env,
        LOG_LEVEL: "info",
      });
      processes.push(edge, worker);
      const [edgePort] = await Promise.all([
        loggedPort(edge, "edge listening", 60_000),
        worker.waitFor(/worker ready/, 60_000),
      ]);
      edgeUrl = `http://127.0.0.1:${edgePort}`;
    } else {
      // The live state the publisher reads the leaderboard from 4 times a second, as it would with a worker.
      const seedRedis = new Redis(REDIS_URL);
      const seeder = createLiveSeeder({ redis: seedRedis, db: database.db, redisPrefix: name });
      const now = Date.now();
      await seeder.seed(Array.from({ length: LEADS }, (_, i) => seeder.scored(leadId(i), Math.min(1000, i * 7), now)));
      seedRedis.disconnect();
    }

    console.log(`baseline: raw Redis pub/sub at ${RATE}/s for 5 s …`);
    const raw = await measureRawRedis(5);

    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const firstDelivery: number[] = [];
    const delivered = new Set<string>();
    const onUpdate = (update: ScoreUpdate) => {
      const at = sentAt.get(update.event_id);
      if (at === undefined) return;
      const latency = performance.now() - at;
      latencies.push(latency);
      if (!delivered.has(update.event_id)) {
        delivered.add(update.event_id);
        firstDelivery.push(latency);
      }
    };
    console.log(`connecting ${SOCKETS} sockets to ${urls.length} realtime instances …`);
    sockets.push(...(await connectSockets(urls, onUpdate)));
    const leaderboardAt: number[] = [];
    sockets[0]?.on("leaderboard", () => leaderboardAt.push(performance.now()));

    // Publish mode stands in for the worker: each tick's committed changes, their `score_update` messages published
    // as its commit script does, then handed to the publisher for the leaderboard.
    const publisherRedis = args.e2e ? undefined : new Redis(REDIS_URL);
    const publisher =
      publisherRedis &&
      createScorePublisher({
        redis: publisherRedis,
        live: createLiveReader({ redis: publisherRedis, redisPrefix: name, cap: 1000, thresholds: [100, 300, 600] }),
        redisPrefix: name,
        log: silentLogger,
      });
    let failures = 0;
    let pending: ScoreUpdate[] = [];
    const scores = new Map<string, number>();
    const mode = args.e2e ? "POST /api/events (edge) → socket" : "publish → socket";
    console.log(`${mode}: ${RATE} events/s for ${DURATION_S} s …`);
    const flush = setInterval(() => {
      if (!publisher || !publisherRedis || pending.length === 0) return;
      const pipeline = publisherRedis.pipeline();
      for (const messages of encodeScoreUpdates(realtimeChannelKey(name), pending).values()) {
        for (const [channel, message] of messages) pipeline.publish(channel, message);
      }
      void pipeline.exec();
      void publisher.publish(pending);
      pending = [];
    }, 5);
    const startedAt = performance.now();
    const seconds = await pace(RATE, DURATION_S, (index) => {
      const lead = leadId(index);
      const eventId = `${name}-e${index}`;
      sentAt.set(eventId, performance.now());
      if (args.e2e) {
        fetch(`${edgeUrl}/api/events`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` },
          body: JSON.stringify({ event_id: eventId, lead_id: lead, event_type: "page_view" }),
        }).then(
          (response) => {
            if (response.status !== 202) failures += 1;
            return response.body?.cancel();
          },
          () => {
            failures += 1;
          },
        );
        return;
      }
      const score = Math.min(1000, (scores.get(lead) ?? 0) + 5);
      scores.set(lead, score);
      pending.push({
        lead_id: lead,
        current_score: score,
        delta: 5,
        stage: stageFor(score),
        event_id: eventId,
        event_type: "page_view",
        timestamp: new Date().toISOString(),
      });
    });
    const sentEvents = sentAt.size;
    await sleep(DRAIN_MS);
    clearInterval(flush);
    await publisher?.close();
    publisherRedis?.disconnect();

    const perLead = SOCKETS / LEADS;
    const expected = sentEvents * perLead;
    const window = leaderboardAt.filter((at) => at >= startedAt);
    const rows = [
      summarize("raw Redis pub/sub (baseline)", raw),
      summarize(`score_update, every socket (${mode})`, latencies),
      summarize("score_update, first socket per event", firstDelivery),
    ];
    const format = (value: number) => (Number.isNaN(value) ? "-" : value.toFixed(1));
    console.log(
      `\nRealtime: ${SOCKETS} sockets on 2 instances, ${LEADS} leads (~${perLead} sockets each), ` +
        `${(sentEvents / seconds).toFixed(0)} events/s for ${seconds.toFixed(1)} s (${mode})\n`,
    );
    console.log("| measure | samples | p50 ms | p90 ms | p99 ms | max ms |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (const row of rows) {
      console.log(
        `| ${row.measure} | ${row.samples} | ${format(row.p50)} | ${format(row.p90)} | ${format(row.p99)} | ${format(row.max)} |`,
      );
    }
    const [baseline, every] = rows;
    console.log(
      [
        "",
        `deliveries: ${latencies.length} of ${expected} expected (${((100 * latencies.length) / expected).toFixed(2)} %)`,
        `events with no delivery: ${sentEvents - delivered.size}${args.e2e ? `; edge refusals/errors: ${failures}` : ""}`,
        `p99 vs raw Redis pub/sub: ${((every?.p99 ?? Number.NaN) / (baseline?.p99 ?? Number.NaN)).toFixed(1)}×` +
          ` (target: p99 ≤ 250 ms → ${(every?.p99 ?? Number.POSITIVE_INFINITY) <= 250 ? "met" : "NOT met"})`,
        `leaderboard emits seen by one socket: ${window.length} in ${((seconds * 1000 + DRAIN_MS) / 1000).toFixed(1)} s` +
          ` (${(window.length / (seconds + DRAIN_MS / 1000)).toFixed(2)}/s, limit 4/s)`,
      ].join("\n"),
    );
  } finally {
    await stopAll();
  }
}

await main();
