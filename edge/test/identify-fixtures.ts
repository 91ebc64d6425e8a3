// An edge and a worker on real Redis and the MongoDB-compatible store, for the identity tests that go end to end.
import { parseConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { silentLogger } from "@leadscore/runtime";
import { createWorker } from "@leadscore/worker";
import { createTestEdge } from "../../test-support/edge.ts";
import { REDIS_URL } from "../../test-support/index.ts";

export const KEY = "test-write-key";
export const T0 = Date.parse("2026-01-01T10:00:00Z");
export const MINUTE = 60_000;

export type Edge = Awaited<ReturnType<typeof createTestEdge>>;

export async function startStack() {
  const edge = await createTestEdge();
  await edge.ready();
  const worker = await createWorker(
    parseConfig(WorkerConfigSchema, {
      NODE_ENV: "test",
      REDIS_URL,
      MONGO_URL: edge.deps.config.MONGO_URL,
      REDIS_PREFIX: edge.deps.config.REDIS_PREFIX,
      LOG_LEVEL: "error",
    }),
    silentLogger,
    { summaryEveryMs: 0, deepLaneIdleMs: 20 },
  );
  await worker.start();
  return { edge, worker };
}
