// `npm run rebuild`: recomputes the live state in Redis from MongoDB (see rebuild.ts); `--check` only compares them.
import { mongoDatabaseName, parseConfigOrExit, WorkerConfigSchema } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { createLogger, createMissingIndexes, createRedis, readScoringSettings } from "@leadscore/runtime";
import { MongoClient } from "mongodb";
import { rebuildLiveState, withRebuildLock } from "./rebuild.ts";

const config = parseConfigOrExit("rebuild", WorkerConfigSchema, process.env, (code) => process.exit(code));
const log = createLogger("rebuild", config.LOG_LEVEL);
const mongo = await MongoClient.connect(config.MONGO_URL);
const redis = createRedis(config);
const db = mongo.db(mongoDatabaseName(config.MONGO_URL));
const options = { db, redis, cap: config.SCORE_CAP, thresholds: config.STAGE_THRESHOLDS };
try {
  if (process.argv.includes("--check")) {
    // With decay on, the fold decays with the half-life in force and the index is keyed on it.
    const { half_life_seconds: halfLifeSeconds } = await readScoringSettings(db);
    const report = await auditLiveState({ ...options, redisPrefix: config.REDIS_PREFIX, halfLifeSeconds });
    console.log(`${report.leads} leads, ${report.events} events: ${report.problems.length} problems`);
    for (const problem of report.problems.slice(0, 50)) console.log(`  ${problem}`);
    // Pages the rebuild laid out anew leave the ones they replace stored until a worker's sweep (after their grace).
    const pages = report.pages;
    if (pages)
      console.log(`history pages: ${pages.stored} stored (${pages.retired} retired), ${pages.referenced} named`);
    for (const problem of report.pageProblems) console.log(`  ${problem}`);
    process.exitCode = report.problems.length === 0 ? 0 : 1;
  } else {
    // A rebuild is also how a restored database comes back into service, so it leaves the indexes in place too.
    await createMissingIndexes(db, log);
    const keys = liveKeys(config.REDIS_PREFIX);
    const { half_life_seconds } = await readScoringSettings(db);
    const result = await withRebuildLock(redis, keys, (lock) =>
      rebuildLiveState({ ...options, keys, log, lock, halfLife: () => half_life_seconds }),
    );
    if (result === null) throw new Error("another process is rebuilding the live state");
    console.log(
      `rebuilt ${result.leads} leads from ${result.events} events (${result.pages} history pages) in ${Math.round(result.ms)} ms`,
    );
  }
} finally {
  redis.disconnect();
  await mongo.close();
}
