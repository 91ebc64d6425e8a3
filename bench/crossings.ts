// Stage changes caused by time at volume: seeds N leads (10,000) straight into Redis, hot and set to decay below 300
// (warm) at instants spread over a minute starting 20 s on (half-life 1 h), runs one decay ticker (worker/src/decay-ticker.ts)
// in this process, and prints how late each crossing was committed: the outbox message's stream id (Redis's clock
// when the commit script recorded it) minus the exact crossing instant it carries. Beside it, the same ticker's turn
// with nothing to cross (its floor: one range read per threshold).
//
//   npm run bench:crossings
//   npm run bench:crossings -- --leads 10000 --spread 60
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { crossingInstant, DEFAULT_STAGE_THRESHOLDS, decayKey, STAGES } from "@leadscore/contracts";
import { decayRankKey, encodeLeadHash, liveKeys } from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { createDecayTicker } from "@leadscore/worker";
import { Redis } from "ioredis";
import { REDIS_URL, uniqueName } from "../test-support/index.ts";

const { values } = parseArgs({
  options: { leads: { type: "string", default: "10000" }, spread: { type: "string", default: "60" } },
});
const LEADS = Number(values.leads);
const SPREAD_MS = Number(values.spread) * 1000;
const H = 3600;

const redis = new Redis(REDIS_URL);
const prefix = uniqueName("bench-crossings");
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
    `${LEADS} leads crossing hot → warm over ${SPREAD_MS / 1000} s from 20 s on; load ${loadavg()[0]?.toFixed(1)}`,
  );
  ticker.start();
  const end = first + SPREAD_MS + 3_000;
  while (Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 1_000));
  await ticker.stop();
  const entries = (await redis.xrange(keys.outbox.stream, "-", "+")) as [string, string[]][];
  const lateness: number[] = [];
  let wrong = 0;
  for (const [streamId, fields] of entries) {
    const message = Object.fromEntries(fields.flatMap((_, i) => (i % 2 === 0 ? [[fields[i], fields[i + 1]]] : [])));
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
    `announced ${entries.length} of ${LEADS} (instants not exact: ${wrong}); lateness vs the exact instant: ` +
      `p50 ${quantile(lateness, 0.5)} ms, p99 ${quantile(lateness, 0.99)} ms, max ${lateness.at(-1)} ms; ` +
      `an idle turn p50 ${quantile(floor, 0.5)?.toFixed(1)} ms; load ${loadavg()[0]?.toFixed(1)}`,
  );
} finally {
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
