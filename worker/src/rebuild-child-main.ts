// The child process a worker's full rebuild runs in (rebuild-child.ts): one rebuild, asked for over IPC, its
// progress and log lines sent back the same way; it exits when done, or when its parent goes.
import { mongoDatabaseName } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import {
  createLock,
  createRedis,
  LockLostError,
  type Logger,
  leadPartition,
  partitionPrefixes,
} from "@leadscore/runtime";
import { MongoClient } from "mongodb";
import { removeOwnLeadEventFoldersSync } from "./lead-event-folders.ts";
import { type RebuildProgress, rebuildLiveState } from "./rebuild.ts";
import type { ChildRebuildMessage, ChildRebuildRequest } from "./rebuild-child.ts";

const send = (message: ChildRebuildMessage) => process.send?.(message);

/** The rebuild lock's time to live, as the holder's (rebuild.ts): only extended here, by its token. */
const LOCK_MS = 60_000;
const PROGRESS_MS = 250;

const forward: Logger = {
  debug: (message, fields) => send({ type: "log", level: "debug", message, ...(fields && { fields }) }),
  info: (message, fields) => send({ type: "log", level: "info", message, ...(fields && { fields }) }),
  warn: (message, fields) => send({ type: "log", level: "warn", message, ...(fields && { fields }) }),
  error: (message, fields) => send({ type: "log", level: "error", message, ...(fields && { fields }) }),
};

async function rebuild(request: ChildRebuildRequest, controller: AbortController): Promise<void> {
  const { config, prefix } = request;
  const mongo = await MongoClient.connect(config.MONGO_URL);
  const redis = createRedis(config);
  const keys = liveKeys(prefix);
  const lock = createLock({ redis, key: keys.rebuildLock, ttlMs: LOCK_MS, token: request.token });
  // A lead partition keeps its own leads (as the worker's partition does, worker.ts).
  const prefixes = partitionPrefixes(config.REDIS_PREFIX, config.LEAD_PARTITIONS);
  const partition = prefixes.indexOf(prefix);
  const owns =
    prefixes.length === 1 ? undefined : (leadId: string) => leadPartition(leadId, prefixes.length) === partition;
  const progress: RebuildProgress = { running: true, eventsRead: 0, leadsWritten: 0 };
  const timer = setInterval(() => send({ type: "progress", progress }), PROGRESS_MS);
  try {
    const result = await rebuildLiveState({
      db: mongo.db(mongoDatabaseName(config.MONGO_URL)),
      redis,
      keys,
      cap: config.SCORE_CAP,
      thresholds: config.STAGE_THRESHOLDS,
      log: forward,
      lock: { check: () => lock.check(), signal: controller.signal, token: request.token },
      progress,
      halfLife: () => request.halfLifeSeconds,
      ...(owns && { owns }),
      ...(request.writeEvents === undefined ? {} : { writeEvents: request.writeEvents }),
    });
    send({ type: "progress", progress });
    // Its peak resident memory, for the log: the worker's own stays where it was.
    const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    send({ type: "done", result, pid: process.pid, maxRssMb });
  } finally {
    clearInterval(timer);
    redis.disconnect();
    await mongo.close();
  }
}

const controller = new AbortController();
// The worker gone, nobody holds the lock for this rebuild any more.
process.on("disconnect", () => {
  // Exiting now runs no `finally`: the stream's temporary folder goes here (lead-event-folders.ts).
  removeOwnLeadEventFoldersSync();
  process.exit(1);
});
process.on("message", (message: ChildRebuildRequest | { type: "abort" }) => {
  if (message.type === "abort") {
    controller.abort(new LockLostError("the rebuild lock was lost while the rebuild ran"));
    return;
  }
  rebuild(message, controller).then(
    () => process.disconnect(),
    (error: Error) => {
      send({ type: "failed", message: error.message, lockLost: error instanceof LockLostError });
      process.disconnect();
    },
  );
});
