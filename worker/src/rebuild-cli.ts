// `npm run rebuild`: recomputes the live state in Redis from MongoDB (see rebuild.ts); `--check` only compares them.
import { mongoDatabaseName, parseConfigOrExit, WorkerConfigSchema } from "@leadscore/contracts";
import { auditLiveState } from "@leadscore/live/audit";
import { createLogger, createMissingIndexes, createRedis, readScoringSettings } from "@leadscore/runtime";
import { MongoClient } from "mongodb";
import { removeStaleLeadEventFolders } from "./lead-event-folders.ts";
import { rebuildEveryPartition } from "./rebuild-partitions.ts";

const config = parseConfigOrExit("rebuild", WorkerConfigSchema, process.env, (code) => process.exit(code));
const log = createLogger("rebuild", config.LOG_LEVEL);
const mongo = await MongoClient.connect(config.MONGO_URL);
const redis = createRedis(config);
const db = mongo.db(mongoDatabaseName(config.MONGO_URL));
const options = {
  db,
  redis,
  redisPrefix: config.REDIS_PREFIX,
  partitions: config.LEAD_PARTITIONS,
  cap: config.SCORE_CAP,
  thresholds: config.STAGE_THRESHOLDS,
};
try {
  if (process.argv.includes("--check")) {
    // With decay on, the fold decays with the half-life in force and the index is keyed on it.
    const { half_life_seconds: halfLifeSeconds } = await readScoringSettings(db);
    const report = await auditLiveState({ ...options, halfLifeSeconds });
    console.log(`${report.leads} leads, ${report.events} events: ${report.problems.length} problems`);
    for (const problem of report.problems.slice(0, 50)) console.log(`  ${problem}`);
    // Pages the rebuild laid out anew leave the ones they replace stored until a worker's sweep (after their grace).
    const pages = report.pages;
    if (pages)
      console.log(`history pages: ${pages.stored} stored (${pages.retired} retired), ${pages.referenced} named`);
    for (const problem of report.pageProblems) console.log(`  ${problem}`);
    process.exitCode = report.problems.length === 0 ? 0 : 1;
  } else {
    // What rebuilds killed mid-sort left in the temporary folder (lead-event-folders.ts).
    const removed = await removeStaleLeadEventFolders();
    if (removed.length > 0) log.warn("removed the folders of earlier rebuilds", { folders: removed });
    // A rebuild is also how a restored database comes back into service, so it leaves the indexes in place too.
    await createMissingIndexes(db, log);
    const { half_life_seconds } = await readScoringSettings(db);
    // Every lead partition's, each under its own lock.
    const result = await rebuildEveryPartition({ ...options, log, halfLife: () => half_life_seconds });
    console.log(
      `rebuilt ${result.leads} leads from ${result.events} events (${result.pages} history pages) in ${Math.round(result.ms)} ms`,
    );
  }
} finally {
  redis.disconnect();
  await mongo.close();
}
