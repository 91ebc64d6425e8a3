// Runs of a fast-check property: a fresh random seed every run (fast-check's default), so a property keeps finding
// new cases; a failure names its seed and path (`seed: <n>, path: "<p>"` in the error, repeated by the summary
// reporter), and PROPERTY_SEED=<n> PROPERTY_PATH=<p> replays exactly that case.
import type { Parameters, Stream } from "fast-check";

export function propertyRuns<T>(numRuns: number, env: NodeJS.ProcessEnv = process.env): Parameters<T> {
  const seed = env.PROPERTY_SEED;
  if (seed === undefined || seed === "") return { numRuns };
  const path = env.PROPERTY_PATH;
  return { numRuns, seed: Number(seed), ...(path ? { path } : {}) };
}

/** The items in the order a stream of naturals picks (a Fisher–Yates shuffle): an arrival order fast-check shrinks. */
export function shuffled<T>(items: readonly T[], stream: Stream<number>): T[] {
  const order = stream[Symbol.iterator]();
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = (order.next().value as number) % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
