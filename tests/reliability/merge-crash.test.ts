// A merge whose workers die: one killed while it records the identify (MongoDB frozen under its insert), the next
// killed while its deep lane folds the anonymous lead into the known one (MongoDB frozen under its page reads). The
// third must finish the merge from what they left: every acknowledged event scored once, on the known lead, and the
// anonymous lead gone.
import { DEFAULT_SCORE_CAP } from "@leadscore/contracts";
import { createLiveReader, liveKeys } from "@leadscore/live";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { auditScores } from "./audit.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("when the workers of a merge are killed mid-way", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack({ workerEnv: { JOB_LOCK_MS: "1500" } });
    await stack.startEdge();
  }, 90_000);
  afterAll(() => stack?.stop(), 60_000);

  const post = (path: string, body: unknown) =>
    fetch(`${stack.edgeUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.writeKey}` },
      body: JSON.stringify(body),
    });

  it("finishes it from what they left: each event once, on the known lead", async () => {
    const keys = liveKeys(stack.prefix);
    const live = createLiveReader({
      redis: stack.redis,
      redisPrefix: stack.prefix,
      cap: DEFAULT_SCORE_CAP,
      thresholds: [100, 300, 600],
    });
    // Enough anonymous events to spill history pages, which the merge must read from MongoDB after a restart.
    const event = (lead: string, n: number, offset: number) => ({
      event_id: `${lead}-${n}`,
      lead_id: lead,
      event_type: n % 10 === 0 ? "email_open" : "page_view",
      timestamp: T0 + (n * 3 + offset) * MINUTE,
    });
    const anonymous = Array.from({ length: 160 }, (_, n) => event("anon-x", n, 0));
    const known = Array.from({ length: 40 }, (_, n) => event("ada-x", n, 1));
    const acknowledged = new Set([...anonymous, ...known].map((e) => e.event_id));
    expect((await post("/api/batch", { events: anonymous })).status).toBe(202);
    expect((await post("/api/batch", { events: known })).status).toBe(202);
    const first = await stack.startWorker();
    await eventually(
      async () => (await live.lead("anon-x"))?.count === 160 && (await live.lead("ada-x"))?.count === 40,
      60_000,
    );
    expect((await live.leadWithTail("anon-x"))?.pages.length ?? 0).toBeGreaterThan(0);

    // 1. Killed while recording the identify.
    stack.freezeMongo(true);
    expect((await post("/api/identify", { anonymous_id: "anon-x", lead_id: "ada-x" })).status).toBe(202);
    await sleep(500);
    await first.stop("SIGKILL");
    stack.freezeMongo(false);
    expect(await stack.redis.hget(keys.aliases, "anon-x")).toBeNull();

    // 2. The next takes the stalled job, records it, and is killed while its deep lane folds the two leads.
    const second = await stack.startWorker();
    await eventually(async () => (await stack.redis.hget(keys.aliases, "anon-x")) === "ada-x", 60_000);
    stack.freezeMongo(true);
    // A later event sent with the anonymous id, meanwhile.
    expect((await post("/api/events", event("anon-x", 500, 0))).status).toBe(202);
    acknowledged.add("anon-x-500");
    await sleep(500);
    expect(await stack.redis.hexists(keys.deep, "anon-x")).toBe(1);
    await second.stop("SIGKILL");
    stack.freezeMongo(false);
    expect(await live.lead("anon-x")).not.toBeNull();

    // 3. The third takes the deep lane over once the dead one's lock expires, and finishes.
    await stack.startWorker();
    const merged = await eventually(async () => {
      const lead = await live.lead("ada-x");
      return lead?.count === 201 && (await live.lead("anon-x")) === null && lead;
    }, 90_000);
    expect(merged.count).toBe(201);
    expect(await stack.redis.zscore(keys.byScore, "anon-x")).toBeNull();
    const report = await auditScores(
      { db: stack.db, redis: stack.redis, redisPrefix: stack.prefix },
      acknowledged,
      DEFAULT_SCORE_CAP,
    );
    expect({
      lost: report.lost,
      duplicated: report.duplicated,
      problems: report.problems,
      leads: report.leads,
    }).toEqual({
      lost: [],
      duplicated: [],
      problems: [],
      leads: 1,
    });
  }, 240_000);
});
