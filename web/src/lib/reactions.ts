// What the models' effects are made of. A model (`createModel`) owns the effects its factory creates and disposes
// them with itself; each effect returns the cleanup of what it started — a timer, a listener, a room — so a disposed
// model leaves nothing running and keeps no list of its own to undo.
import { computed, effect, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import type { Realtime } from "./realtime.ts";

/** Calls `fn` once after `ms`; returns what clears it, for an effect to return. */
export function timeout(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

/** Calls `fn` every `ms`; returns what stops it, for an effect to return. */
export function interval(fn: () => void, ms: number): () => void {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
}

/** Adds a view to `views` until the returned function is called (a second call does nothing). */
export function addView<T extends object>(views: Signal<readonly T[]>, view: T): () => void {
  views.value = [...views.value, view];
  return () => {
    views.value = views.value.filter((shown) => shown !== view);
  };
}

/**
 * Keys marked for a while: each stays in `marks` for `ms` after its last `mark`. One timer, an effect's, takes out
 * what is due. Call it in a model's factory, so the model owns that effect.
 */
export function createFading<V>(ms: number, name: string) {
  const entries = signal<Record<string, { value: V; until: number }>>({}, { name });
  effect(() => {
    const due = Object.values(entries.value).map((entry) => entry.until);
    if (due.length === 0) return;
    return timeout(
      () => {
        const now = Date.now();
        // Always a new record: what is not yet due (a timer may fire a moment early) gets a timer of its own.
        entries.value = Object.fromEntries(Object.entries(entries.peek()).filter(([, entry]) => entry.until > now));
      },
      Math.max(0, Math.min(...due) - Date.now()),
    );
  });
  return {
    marks: computed(() =>
      Object.fromEntries(Object.entries(entries.value).map(([key, entry]) => [key, entry.value])),
    ) as ReadonlySignal<Record<string, V>>,
    mark(key: string, value: V) {
      entries.value = { ...entries.peek(), [key]: { value, until: Date.now() + ms } };
    },
    unmark(key: string) {
      if (!(key in entries.peek())) return;
      const { [key]: _, ...rest } = entries.peek();
      entries.value = rest;
    },
  };
}

/**
 * Keeps a view's figures fresh while `shown`: `refresh` every `everyMs`, and within `liveMs` of live activity (a
 * leaderboard broadcast; not the top sent to a first connection, which says nothing moved). Call it in a model's
 * factory, so the model owns its effects; `started()` is called as each read starts, `clear()` drops a pending one.
 */
export function createLiveRefresh(options: {
  shown: ReadonlySignal<boolean>;
  realtime: Pick<Realtime, "onLeaderboard">;
  refresh: () => void;
  everyMs: number;
  liveMs: number;
  name: string;
}) {
  const { shown, realtime, refresh } = options;
  const due = signal(false, { name: options.name });
  let last = 0;
  effect(() => {
    if (shown.value) return interval(refresh, options.everyMs);
  });
  effect(() => {
    if (!shown.value) return;
    return realtime.onLeaderboard((_, reason) => {
      if (reason !== "initial") due.value = true;
    });
  });
  effect(() => {
    if (!shown.value || !due.value) return;
    const wait = Math.max(0, last + options.liveMs - Date.now());
    return timeout(() => {
      due.value = false;
      refresh();
    }, wait);
  });
  return {
    started() {
      last = Date.now();
    },
    clear() {
      due.value = false;
    },
  };
}
