// A worker, a dispatcher and a webhook store on one isolated prefix and database, for webhook integration tests.
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { createStack, type TestStack } from "../../test-support/worker-stack.ts";
import { createDispatcher, type Dispatcher, type DispatcherOptions } from "../src/dispatcher.ts";
import type { WebhookEventType } from "../src/model.ts";
import { createWebhookStore, type WebhookStore } from "../src/store.ts";

export interface HookStack {
  stack: TestStack;
  redis: Redis;
  store: WebhookStore;
  dispatchers: Dispatcher[];
  /** Starts an in-process dispatcher with short retry delays (options override them). */
  startDispatcher(options?: Partial<DispatcherOptions>): Dispatcher;
  subscribe(url: string, events?: WebhookEventType[]): ReturnType<WebhookStore["create"]>;
  close(): Promise<void>;
}

/** Short delays for tests: retries after 50 ms, then 100 ms, for at most a minute. */
export const TEST_DISPATCH = {
  timeoutMs: 2_000,
  retryDelaysMs: [50, 100],
  retryForMs: 60_000,
  concurrency: 32,
  perSubscription: 8,
  logSize: 1_000,
  disableAfterMs: 259_200_000,
  maxPending: 100_000,
  allowPrivate: true,
  pollMs: 20,
};

export async function createHookStack(options: { worker?: boolean } = {}): Promise<HookStack> {
  const stack = await createStack();
  if (options.worker !== false) await stack.startWorker();
  const redis = new Redis(stack.config.REDIS_URL);
  const store = createWebhookStore({ redis, redisPrefix: stack.config.REDIS_PREFIX });
  const dispatchers: Dispatcher[] = [];
  return {
    stack,
    redis,
    store,
    dispatchers,
    startDispatcher(overrides = {}) {
      const dispatcher = createDispatcher({
        redis,
        redisPrefix: stack.config.REDIS_PREFIX,
        log: silentLogger,
        ...TEST_DISPATCH,
        ...overrides,
      });
      dispatcher.start();
      dispatchers.push(dispatcher);
      return dispatcher;
    },
    subscribe(url, events = ["lead.stage_changed"]) {
      return store.create({ url, events });
    },
    async close() {
      await Promise.allSettled(dispatchers.map((dispatcher) => dispatcher.close()));
      redis.disconnect();
      await stack.close();
    },
  };
}
