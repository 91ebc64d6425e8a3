// Shared load profiles as k6 executors: constant-arrival-rate for steady runs, ramping-arrival-rate for the stress
// ramp. Arrival-rate executors are open-loop: a slow edge does not slow the generator down, it shows up as
// latency and, once every VU is busy, as dropped_iterations.
import type { Scenario } from "k6/options";
import { formatDuration, type LoadProfile } from "../../src/scenarios.ts";

export interface ExecutorOptions {
  /** Name of the exported function each iteration runs. */
  exec: string;
  /** Upper bound on concurrent iterations (requests in flight). */
  maxVUs: number;
  preAllocatedVUs: number;
  tags?: Record<string, string>;
}

export function toK6Scenario(profile: LoadProfile, options: ExecutorOptions): Scenario {
  const common = {
    exec: options.exec,
    preAllocatedVUs: Math.min(options.preAllocatedVUs, options.maxVUs),
    maxVUs: options.maxVUs,
    timeUnit: "1s",
    gracefulStop: "10s",
    ...(options.tags ? { tags: options.tags } : {}),
  };
  if (profile.kind === "constant") {
    return {
      ...common,
      executor: "constant-arrival-rate",
      rate: Math.round(profile.rate),
      duration: formatDuration(profile.durationSeconds),
    };
  }
  return {
    ...common,
    executor: "ramping-arrival-rate",
    startRate: Math.round(profile.startRate),
    stages: profile.stages.map((stage) => ({
      target: Math.round(stage.target),
      duration: formatDuration(stage.durationSeconds),
    })),
  };
}
