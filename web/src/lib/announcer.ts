import { type ReadonlySignal, signal } from "@preact/signals";

/**
 * Text for the page's polite live region. Live updates can arrive many times a second; a screen reader hears at
 * most one message per interval (the latest), not a queue of stale ones.
 */
export interface Announcer {
  readonly message: ReadonlySignal<string>;
  announce(text: string): void;
  close(): void;
}

export function createAnnouncer(intervalMs = 2000): Announcer {
  const message = signal("", { name: "announcer.message" });
  let pending: string | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    timer = null;
    if (pending === null) return;
    message.value = pending;
    pending = null;
    timer = setTimeout(flush, intervalMs);
  };
  return {
    message,
    announce(text) {
      pending = text;
      if (timer === null) flush();
    },
    close() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
