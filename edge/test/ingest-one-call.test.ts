import { connect } from "node:net";
import { dedupeSlot, readDedupeMark } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { post, queuedEvents } from "../../test-support/ingest.ts";
import { createClaimer } from "../src/ingest/dedupe.ts";

const event = (id: string, lead = "lead-1") => ({ event_id: id, lead_id: lead, event_type: "page_view" });

/**
 * The script calls (EVAL/EVALSHA) Redis ran while `work` ran that name `eventId` or its dedupe bucket, seen through a
 * plain MONITOR connection (ioredis' monitor mode trips over the stream of a busy shared server).
 */
async function scriptCalls(eventId: string, bucket: string, work: () => Promise<unknown>): Promise<string[]> {
  const { hostname, port } = new URL(REDIS_URL);
  const socket = connect(Number(port || 6379), hostname);
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  socket.write("MONITOR\r\n");
  try {
    await eventually(async () => text.startsWith("+OK"));
    await work();
    // MONITOR reports a command once it ran: give the stream a moment to deliver the last one.
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    socket.destroy();
  }
  return text
    .split("\r\n")
    .filter((line) => /^\+[\d.]+ \[\d+ [^\]]+\] "eval(sha)?" /i.test(line))
    .filter((line) => line.includes(`"${bucket}"`) || line.includes(eventId));
}

describe("with one lead partition, accepting an event", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());
  const slot = (id: string) => dedupeSlot(edge.deps.config.REDIS_PREFIX, id, edge.deps.config.DEDUPE_BUCKETS);

  it("claims its id and queues it in one script call", async () => {
    const calls = await scriptCalls("one-call-1", slot("one-call-1").key, async () => {
      expect((await edge.app.request("/api/events", post(event("one-call-1")))).status).toBe(202);
    });
    expect(calls).toHaveLength(1);
  });

  it("is marked seen for the whole window by the time it is answered", async () => {
    expect((await edge.app.request("/api/events", post(event("one-call-2")))).status).toBe(202);
    const mark = await readDedupeMark(edge.redis, slot("one-call-2"));
    expect(mark.state).toBe("seen");
    expect(mark.expiresIn).toBeGreaterThan(edge.deps.config.DEDUPE_TTL_SECONDS - 5);
    expect((await queuedEvents(edge.queue)).filter((queued) => queued.event_id === "one-call-2")).toHaveLength(1);
  });

  it("answers concurrent copies of one id once 202 and otherwise 200 duplicate, queueing it once", async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => edge.app.request("/api/events", post(event("one-call-3")))),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect((await queuedEvents(edge.queue)).filter((queued) => queued.event_id === "one-call-3")).toHaveLength(1);
  });

  it("writes a job Bull reads back as its own, with the events job options", async () => {
    expect((await edge.app.request("/api/events", post(event("one-call-4", "lead-4")))).status).toBe(202);
    const jobs = await edge.queue.getJobs(["waiting", "paused"]);
    const job = jobs.find((each) =>
      each.data.events?.some((queued: { event_id: string }) => queued.event_id === "one-call-4"),
    );
    expect(job?.name).toBe("__default__");
    expect(job?.data.v).toBe(1);
    expect(job?.opts).toMatchObject({
      attempts: 10,
      backoff: { type: "exponential", delay: 500 },
      removeOnComplete: true,
      removeOnFail: false,
      delay: 0,
    });
    expect(job?.timestamp).toBeGreaterThan(0);
  });

  it("waits for an id another request claimed in two steps, and answers it a duplicate once that is queued", async () => {
    const other = new Redis(REDIS_URL, { enableOfflineQueue: false });
    await new Promise((resolve) => other.once("ready", resolve));
    const twoStep = createClaimer({ redis: other, ttlSeconds: edge.deps.config.DEDUPE_TTL_SECONDS });
    try {
      await twoStep.claim([slot("one-call-5")]);
      const answer = edge.app.request("/api/events", post(event("one-call-5")));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await twoStep.confirm([slot("one-call-5")]);
      expect((await answer).status).toBe(200);
    } finally {
      other.disconnect();
    }
  });
});
