// A task a worker looks for every `pollMs` (a queued preview, the current re-score): one poll at a time, the next
// `pollMs` after the last ended; `stop` aborts the signal the polls get and waits for the one running.
import type { Logger } from "@leadscore/runtime";

export interface Poller {
  start(): void;
  stop(): Promise<void>;
}

export function createPoller(
  poll: (shutdown: AbortSignal) => Promise<void>,
  options: { pollMs: number; log: Logger; what: string },
): Poller {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  const shutdown = new AbortController();
  const loop = () => {
    if (stopping) return;
    running = poll(shutdown.signal)
      .catch((error: Error) => options.log.warn(`${options.what} poll failed`, { error: error.message }))
      .finally(() => {
        running = undefined;
        if (!stopping) timer = setTimeout(loop, options.pollMs);
      });
  };
  return {
    start() {
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopping = true;
      clearTimeout(timer);
      shutdown.abort(new Error("the worker is shutting down"));
      await running;
    },
  };
}
