import { join } from "node:path";
import { DEFAULT_DEDUPE_BUCKETS } from "@leadscore/contracts";
import { dedupeSlot, EVENTS_QUEUE, type EventsJob, readDedupeMark } from "@leadscore/runtime";
import Queue from "bull";
import { describe, expect, it } from "vitest";
import { createTestRedis, MONGO_URL, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { BIN, DENO_EDGE_ARGS, loggedPort, startProcess } from "../../test-support/processes.ts";

describe("ingestion on Deno", () => {
  it("queues a posted event in Bull and exits 0 on SIGTERM", async () => {
    const prefix = uniqueName();
    const { redis, cleanup } = await createTestRedis(prefix);
    const queue = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix });
    const edge = startProcess(join(BIN, "deno"), DENO_EDGE_ARGS, {
      PORT: "0",
      REDIS_URL,
      MONGO_URL,
      REDIS_PREFIX: prefix,
      WRITE_KEYS: "deno-key",
      LOG_LEVEL: "info",
    });
    try {
      const port = await loggedPort(edge, "edge listening", 60_000);
      const response = await fetch(`http://127.0.0.1:${port}/api/events`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer deno-key" },
        body: JSON.stringify({ event_id: "deno-evt-1", lead_id: "deno-lead", event_type: "demo_request" }),
      });
      expect(response.status).toBe(202);
      expect(await response.json()).toEqual({ success: true, event_id: "deno-evt-1", duplicate: false });
      const jobs = await queue.getWaiting(0, -1);
      const events = jobs.flatMap((job) => (job.data as EventsJob).events);
      expect(events).toEqual([
        expect.objectContaining({ event_id: "deno-evt-1", lead_id: "deno-lead", event_type: "demo_request" }),
      ]);
      // The de-duplication scripts (claim, then confirm once queued) run under Deno too: the same id again is a
      // duplicate, and nothing more is queued.
      await expect
        .poll(
          async () => (await readDedupeMark(redis, dedupeSlot(prefix, "deno-evt-1", DEFAULT_DEDUPE_BUCKETS))).state,
          { timeout: 10_000 },
        )
        .toBe("seen");
      const again = await fetch(`http://127.0.0.1:${port}/api/events`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer deno-key" },
        body: JSON.stringify({ event_id: "deno-evt-1", lead_id: "deno-lead", event_type: "demo_request" }),
      });
      expect(await again.json()).toEqual({ success: true, event_id: "deno-evt-1", duplicate: true });
      expect(await queue.getWaitingCount()).toBe(jobs.length);
    } finally {
      expect(await edge.stop("SIGTERM")).toBe(0);
      await queue.close();
      await cleanup();
    }
  }, 90_000);
});
