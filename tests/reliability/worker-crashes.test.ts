// A job whose worker dies is taken up again by another worker once its lock runs out ("stalled"). Two unrelated
// crashes can hit the same job — a worker killed in a deploy, then the next one in a Redis failover — and the events
// in it were acknowledged to their clients, so the job must still be scored, not parked in the failed set.
import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS } from "@leadscore/contracts";
import { createLiveReader } from "@leadscore/live";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import type { RunningProcess } from "../../test-support/processes.ts";
import { queueState } from "./queue-state.ts";
import { type FaultStack, startFaultStack } from "./stack.ts";

describe("when the workers holding a job crash twice in a row", () => {
  let stack: FaultStack;
  beforeAll(async () => {
    stack = await startFaultStack({ workerEnv: { JOB_LOCK_MS: "1500" } });
    await stack.startEdge();
  }, 90_000);
  afterAll(() => stack?.stop(), 60_000);

  /**
   * Lets `worker` take the job while MongoDB is frozen, so the job is in its hands when it is killed; then starts
   * the next worker, whose stalled-job check takes the job back once its lock runs out.
   */
  async function crashHolding(worker: RunningProcess): Promise<RunningProcess> {
    stack.freezeMongo(true);
    await stack.queue.resume();
    await eventually(async () => (await queueState(stack.redis, stack.prefix)).active === 1, 20_000);
    // Nothing else may take the job before this round is over.
    await stack.queue.pause();
    await worker.stop("SIGKILL");
    stack.freezeMongo(false);
    const next = await stack.startWorker();
    // Back in the (paused) queue as stalled, or in the failed set.
    await eventually(async () => {
      const state = await queueState(stack.redis, stack.prefix);
      return state.active === 0 && state.waiting + state.failed === 1;
    }, 30_000);
    return next;
  }

  it("still scores the job's events", async () => {
    await stack.queue.pause();
    const response = await fetch(`${stack.edgeUrl}/api/events`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.writeKey}` },
      body: JSON.stringify({ event_id: "twice-crashed", lead_id: "crash-lead", event_type: "purchase" }),
    });
    expect(response.status).toBe(202);

    const first = await stack.startWorker();
    await crashHolding(await crashHolding(first));
    await stack.queue.resume();

    const live = createLiveReader({
      redis: stack.redis,
      redisPrefix: stack.prefix,
      cap: DEFAULT_SCORE_CAP,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
    });
    const lead = await eventually(async () => {
      const found = await live.leadWithTail("crash-lead");
      return found && found.count > 0 ? found : null;
    }, 30_000).catch(() => null);
    const state = await queueState(stack.redis, stack.prefix);
    expect(state.failedReasons).toEqual({});
    expect(lead?.tail.map((entry) => [entry.event_id, entry.score])).toEqual([["twice-crashed", 100]]);
    expect(lead).toMatchObject({ score: 100, count: 1 });
  }, 150_000);
});
