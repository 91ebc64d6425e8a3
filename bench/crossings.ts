// Stage changes caused by time at volume: seeds N leads (10,000) straight into Redis, hot and set to decay below 300
// (warm) at instants spread over a minute starting 20 s on (half-life 1 h), runs one decay ticker (worker/src/decay-ticker.ts)
// in this process, and prints how late each crossing was committed: the outbox message's stream id (Redis's clock
// when the commit script recorded it) minus the exact crossing instant it carries. Beside it, the same ticker's turn
// with nothing to cross (its floor: one range read per threshold).
//
// With --traffic N, a worker (in this process, on its own store) scores N events/s of other leads from the start to the
// end, and its own decay ticker commits the crossings, as in production; printed beside the crossings: its scoring rate
// and acceptance → commit lag p99 before the crossings and while they run.
//
//   npm run bench:crossings
//   npm run bench:crossings -- --leads 10000 --spread 60
//   npm run bench:crossings -- --traffic 2000
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { crossingInstant, DEFAULT_STAGE_THRESHOLDS, decayKey, STAGES } from "@leadscore/contracts";
import { decayRankKey, encodeLeadHash, liveKeys } from "@leadscore/live";
import { silentLogger, writeScoringSettings } from "@leadscore/runtime";
import { createDecayTicker, type Worker } from "@leadscore/worker";
import { Redis } from "ioredis";
import { REDIS_URL, uniqueName } from "../test-support/index.ts";
import { createStack, queued, type TestStack } from "../test-support/worker-stack.ts";

const { values } = parseArgs({
  options: {
    leads: { type: "string", default: "10000" },
    spread: { type: "string", default: "60" },
    traffic: { type: "string", default: "0" },
  },
});
const LEADS = Number(values.leads);
const SPREAD_MS = Number(values.spread) * 1000;
const TRAFFIC = Number(values.traffic);
const H = 3600;

const redis = new Redis(REDIS_URL);
// With traffic, a worker stack's prefix: its worker scores the traffic and its ticker commits the crossings.
let stack: TestStack | undefined;
let worker: Worker | undefined;
if (TRAFFIC > 0) {
  stack = await createStack();
  await writeScoringSettings(stack.db, { half_life_seconds: H }, new Date());
  worker = await stack.startWorker();
}
const prefix = stack?.config.REDIS_PREFIX ?? uniqueName("bench-crossings");
const keys = liveKeys(prefix);
const ids = Array.from({ length: LEADS }, (_, i) => `lead-${i}`);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

try {
  await redis.set(keys.outbox.wants, "s");
  const at = Date.now();
  // Seeding takes seconds on a loaded box: the first crossing is well after it.
  const first = at + 20_000;
  for (let from = 0; from < LEADS; from += 1000) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(from, from + 1000)) {
      const n = Number(id.slice(5));
      const target = first + (n * SPREAD_MS) / LEADS;
      const score = 300 * 2 ** ((target - at) / (H * 1000));
      pipeline.hset(
        keys.lead(id),
        encodeLeadHash({ version: "1", score: String(score), stage: "hot", lastEventAt: String(at) }),
      );
      pipeline.zadd(keys.byScore, decayRankKey(score, at, H), id);
      pipeline.zadd(keys.byUpdated, at, id);
      pipeline.zadd(keys.byUpdatedIn("hot"), at, id);
    }
    await pipeline.exec();
  }
  await redis.set(keys.decayThrough, String(at));
  const ticker = createDecayTicker({
    redis,
    keys,
    cap: 1000,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
    halfLife: () => H,
    encodeUpdates: () => new Map(),
    log: silentLogger,
  });
  console.log(
    `${LEADS} leads crossing hot → warm over ${SPREAD_MS / 1000} s from 20 s on; load ${loadavg()[0]?.toFixed(1)}` +
      (TRAFFIC > 0 ? `; a worker scoring ${TRAFFIC} events/s of other leads meanwhile` : ""),
  );
  const end = first + SPREAD_MS + 3_000;
  const traffic = stack ? sendTraffic(stack, end) : null;
  if (!worker) ticker.start();
  let before: ReturnType<Worker["metrics"]["takeWindow"]> | undefined;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // The worker's figures before the first crossing, then while they run.
    if (worker && before === undefined && Date.now() >= first) before = worker.metrics.takeWindow();
  }
  if (worker && stack) {
    await traffic;
    const during = worker.metrics.takeWindow();
    // A worker that cannot keep up leaves a backlog: said, not thrown, so the crossings' figures still print.
    await stack.drained(60_000).catch(() => console.log("the traffic's queue was not drained within 60 s after it"));
    const figures = (w: typeof during | undefined) =>
      `${Math.round(w?.eventsPerSecond ?? 0)} events/s, lag p99 ${w?.lagP99Ms ?? "-"} ms`;
    console.log(`worker scoring: before the crossings ${figures(before)}; during them ${figures(during)}`);
  } else await ticker.stop();
  const entries = (await redis.xrange(keys.outbox.stream, "-", "+")) as [string, string[]][];
  const lateness: number[] = [];
  let wrong = 0;
  for (const [streamId, fields] of entries) {
    const message = Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : [])));
    // The traffic's own stage changes (its events') are not the crossings measured.
    if (message.etype !== "decay") continue;
    const lead = message.lead as string;
    const score = Number(await redis.hget(keys.lead(lead), "s"));
    const exact = crossingInstant(decayKey(score, at, H), 300, at, H);
    if (Number(message.at) !== exact) wrong += 1;
    lateness.push(Number(streamId.split("-")[0]) - exact);
  }
  lateness.sort((a, b) => a - b);
  const floor: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const started = performance.now();
    await ticker.tick();
    floor.push(performance.now() - started);
  }
  floor.sort((a, b) => a - b);
  console.log(
    `announced ${lateness.length} of ${LEADS} (instants not exact: ${wrong}); lateness vs the exact instant: ` +
      `p50 ${quantile(lateness, 0.5)} ms, p99 ${quantile(lateness, 0.99)} ms, max ${lateness.at(-1)} ms; ` +
      `an idle turn p50 ${quantile(floor, 0.5)?.toFixed(1)} ms; load ${loadavg()[0]?.toFixed(1)}`,
  );
} finally {
  await stack?.close();
  for (let from = 0; from < LEADS; from += 1000) await redis.del(...ids.slice(from, from + 1000).map(keys.lead));
  await redis.del(
    keys.byScore,
    keys.byUpdated,
    keys.decayThrough,
    keys.decayLock,
    keys.outbox.stream,
    keys.outbox.wants,
    ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
    ...STAGES.map((stage) => keys.byLastEventIn(stage)),
  );
  redis.disconnect();
}

/** Sends `TRAFFIC` events/s of 1,000 other leads until `end`, a tenth of a second's worth at a time. */
async function sendTraffic(target: TestStack, end: number): Promise<void> {
  let n = 0;
  const perTick = Math.max(1, Math.round(TRAFFIC / 10));
  for (let next = Date.now(); next < end; next += 100) {
    const now = Date.now();
    const events = Array.from({ length: perTick }, () => {
      n += 1;
      return queued(`traffic-${n % 1000}`, `traffic-${n}`, "page_view", now);
    });
    await target.send(events, 100);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next + 100 - Date.now())));
  }
}
