// Re-keying the score index when the half-life changes (`PUT /api/scoring`): seeds N leads' hashes and indexes
// straight into Redis under a prefix of its own, then times `rekeyScoreIndex` turning decay on and off, each beside a
// raw pass over the same leads (the same pipelined HMGETs, then plain pipelined ZADDs of the new keys: no
// compare-and-set, no stage indexes) as its baseline, alternating. Prints ms, leads/s and the ratio, and the load.
//
//   npm run bench:rekey
//   npm run bench:rekey -- --leads 100000 --rounds 3
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { DEFAULT_STAGE_THRESHOLDS, STAGES, stageFor } from "@leadscore/contracts";
import { encodeLeadHash, indexPlace, liveKeys, rankKey, rekeyScoreIndex } from "@leadscore/live";
import { Redis } from "ioredis";
import { REDIS_URL, uniqueName } from "../test-support/index.ts";

const { values } = parseArgs({
  options: { leads: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } },
});
const LEADS = Number(values.leads);
const ROUNDS = Number(values.rounds);
const CAP = 1000;
const HALF_LIFE = 30 * 86_400;
const T0 = Date.parse("2026-11-01T00:00:00Z");

const redis = new Redis(REDIS_URL);
const prefix = uniqueName("bench-rekey");
const keys = liveKeys(prefix);
const ids = Array.from({ length: LEADS }, (_, i) => `lead-${i}`);

async function seed() {
  for (let from = 0; from < LEADS; from += 1000) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(from, from + 1000)) {
      const n = Number(id.slice(5));
      const score = (n * 7919) % (CAP + 1);
      const at = T0 + ((n * 104_729) % (30 * 86_400_000));
      const stage = stageFor(score);
      pipeline.hset(
        keys.lead(id),
        encodeLeadHash({ version: "1", score: String(score), stage, reachedAt: String(at), lastEventAt: String(at) }),
      );
      pipeline.zadd(keys.byScore, rankKey(score, at, CAP), id);
      pipeline.zadd(keys.byUpdated, at, id);
      pipeline.zadd(keys.byUpdatedIn(stage), at, id);
      pipeline.zadd(keys.byLastEvent, at, id);
      pipeline.zadd(keys.byLastEventIn(stage), at, id);
    }
    await pipeline.exec();
  }
}

/** The baseline: the same reads, and the new keys written without a script. */
async function rawPass(halfLifeSeconds: number | null) {
  for (let from = 0; from < LEADS; from += 500) {
    const slice = ids.slice(from, from + 500);
    const read = redis.pipeline();
    for (const id of slice) read.hmget(keys.lead(id), "v", "s", "r", "le");
    const replies = (await read.exec()) ?? [];
    const write = redis.pipeline();
    replies.forEach(([, reply], index) => {
      const [, s, r, le] = reply as string[];
      const state = { score: Number(s), reachedAt: Number(r), lastEventAt: Number(le) };
      const place = indexPlace(state, Date.now(), CAP, DEFAULT_STAGE_THRESHOLDS, halfLifeSeconds);
      write.zadd(keys.byScore, place.rankKey, slice[index] as string);
    });
    await write.exec();
  }
}

const timed = async (task: () => Promise<unknown>) => {
  const started = performance.now();
  await task();
  return performance.now() - started;
};

try {
  await seed();
  console.log(
    `re-key of ${LEADS} leads (load average before: ${loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")})`,
  );
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const halfLifeSeconds of [HALF_LIFE, null]) {
      const rekey = await timed(() =>
        rekeyScoreIndex({ redis, keys, cap: CAP, thresholds: DEFAULT_STAGE_THRESHOLDS, halfLifeSeconds }),
      );
      const raw = await timed(() => rawPass(halfLifeSeconds));
      const what = halfLifeSeconds === null ? "decay off" : "decay on ";
      console.log(
        `round ${round} ${what}: re-key ${rekey.toFixed(0)} ms (${Math.round(LEADS / (rekey / 1000))} leads/s), ` +
          `raw pass ${raw.toFixed(0)} ms, ratio ${(raw / rekey).toFixed(2)}× the raw rate`,
      );
    }
  }
  console.log(
    `load average after: ${loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")}`,
  );
} finally {
  for (let from = 0; from < LEADS; from += 1000) await redis.del(...ids.slice(from, from + 1000).map(keys.lead));
  await redis.del(
    keys.byScore,
    keys.byUpdated,
    keys.byLastEvent,
    ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
    ...STAGES.map((stage) => keys.byLastEventIn(stage)),
  );
  redis.disconnect();
}
