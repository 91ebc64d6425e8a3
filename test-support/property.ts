// Runs of a fast-check property: a fresh random seed every run (fast-check's default), so a property keeps finding
// new cases; a failure names its seed and path (`seed: <n>, path: "<p>"` in the error, repeated by the summary
// reporter), and PROPERTY_SEED=<n> PROPERTY_PATH=<p> replays exactly that case.
import type { Parameters } from "fast-check";

export function propertyRuns<T>(numRuns: number, env: NodeJS.ProcessEnv = process.env): Parameters<T> {
  const seed = env.PROPERTY_SEED;
  if (seed === undefined || seed === "") return { numRuns };
  const path = env.PROPERTY_PATH;
  return { numRuns, seed: Number(seed), ...(path ? { path } : {}) };
}
