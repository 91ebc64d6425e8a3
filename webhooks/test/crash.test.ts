import { outboxKeys } from "@leadscore/live";
import { parsePrometheus, sumOf } from "@leadscore/runtime/prometheus";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { loggedPort, NODE_TS, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { createReceiver, type Receiver } from "../../test-support/webhook-receiver.ts";
import { queued, T0 } from "../../test-support/worker-stack.ts";
import { createHookStack, type HookStack } from "./helpers.ts";

let hooks: HookStack | undefined;
let receiver: Receiver | undefined;
let processes: RunningProcess[] = [];

afterEach(async () => {
  await Promise.allSettled(processes.map((running) => running.stop("SIGKILL")));
  processes = [];
  await receiver?.close();
  receiver = undefined;
  await hooks?.close();
  hooks = undefined;
});

function start(entry: string, env: Record<string, string>, ready: RegExp): Promise<RunningProcess> {
  const running = startProcess(NODE_TS[0], [...NODE_TS.slice(1), entry], { ...env, LOG_LEVEL: "info" });
  processes.push(running);
  return running.waitFor(ready, 60_000).then(() => running);
}

const DISPATCH_ENV = {
  WEBHOOK_RETRY_DELAYS_MS: "50,100",
  WEBHOOK_TIMEOUT_MS: "1000",
};

describe("when the worker is killed between the score commit and the send", () => {
  it("still delivers the message: it was recorded with the commit", async () => {
    hooks = await createHookStack({ worker: false });
    receiver = await createReceiver();
    await hooks.subscribe(receiver.url);
    const outbox = outboxKeys(hooks.stack.config.REDIS_PREFIX).stream;

    const worker = await start("worker/src/main.ts", hooks.stack.env, /worker ready/);
    await hooks.stack.send([queued("gil", "gil-1", "small", T0 + 1_000)]);
    await eventually(async () => (await hooks?.redis.xlen(outbox)) === 1);
    await worker.stop("SIGKILL");
    expect(receiver.received).toEqual([]);

    const env = { ...hooks.stack.env, ...DISPATCH_ENV, DISPATCHER_METRICS_PORT: "0" };
    const dispatcher = await start("webhooks/src/main.ts", env, /dispatcher ready/);
    const metricsPort = await loggedPort(dispatcher, "dispatcher metrics listening");
    await eventually(async () => receiver && receiver.received.length === 1, 20_000);
    expect(receiver.received[0]?.json.data).toMatchObject({ lead_id: "gil", to_stage: "warm" });

    // The dispatcher's metrics count it, time it, and show nothing left.
    const samples = await eventually(async () => {
      const found = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      return sumOf(found, "leadscore_webhook_backlog") === 0 ? found : null;
    });
    const delivered = samples.find(
      (sample) => sample.name === "leadscore_webhook_deliveries_total" && sample.labels.outcome === "delivered",
    );
    expect(delivered?.value).toBe(1);
    expect(sumOf(samples, "leadscore_webhook_delivery_seconds_count")).toBe(1);
  }, 120_000);
});

describe("when the dispatcher is killed while a request is in flight", () => {
  it("another dispatcher sends it again once the claim expires, with the same webhook-id", async () => {
    hooks = await createHookStack();
    let release: (() => void) | undefined;
    receiver = await createReceiver((_, index) =>
      index === 0 ? new Promise<number>((resolve) => (release = () => resolve(200))) : 200,
    );
    await hooks.subscribe(receiver.url);
    const env = { ...hooks.stack.env, ...DISPATCH_ENV };

    const first = await start("webhooks/src/main.ts", env, /dispatcher ready/);
    await hooks.stack.send([queued("hal", "hal-1", "small", T0 + 1_000)]);
    await eventually(async () => receiver && receiver.received.length === 1, 20_000);
    await first.stop("SIGKILL");
    release?.();

    // WEBHOOK_TIMEOUT_MS 1000: the dead dispatcher's claim lasts three times that.
    await start("webhooks/src/main.ts", env, /dispatcher ready/);
    await eventually(async () => receiver && receiver.received.length === 2, 20_000);
    expect(receiver.received[1]?.id).toBe(receiver.received[0]?.id);
  }, 120_000);
});
