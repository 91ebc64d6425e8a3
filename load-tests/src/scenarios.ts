// Scenario definitions shared by the k6 scripts and the Node harness: workload, arrival rate, duration, the
// CI-sized variant, and the targets (from DESIGN.md where it sets one) each run is judged against.
import { WORKLOADS, type Workload, type WorkloadName } from "./workloads.ts";

export type ScenarioName = WorkloadName | "soak" | "stress";

export const SCENARIO_NAMES: readonly ScenarioName[] = ["pixel", "beacon", "single", "batch", "mix", "soak", "stress"];

export interface RampStage {
  /** Requests per second reached at the end of the stage (linear ramp from the previous one). */
  target: number;
  durationSeconds: number;
}

/** Open-loop arrival profile: requests start on schedule whether or not earlier ones have finished. */
export type LoadProfile =
  | { kind: "constant"; rate: number; durationSeconds: number }
  | { kind: "ramp"; startRate: number; stages: readonly RampStage[] };

export interface Targets {
  /** p99 request duration, ms. */
  p99Ms: number;
  /** Largest fraction of requests answered outside the contract (or not at all). */
  maxFailedRate: number;
  /** Largest fraction of scheduled requests the generator could not start (too many in flight). */
  maxDroppedRate: number;
  /** Acceptance → score visible p99, ms (harness only: k6 cannot see the database). */
  lagP99Ms: number;
  /** Where the latency target comes from. */
  source: string;
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  workload: Workload;
  profile: LoadProfile;
  /** A short, small variant that fits in CI next to everything else. */
  ci: LoadProfile;
  /** Concurrent requests allowed before the generator drops iterations (k6: maxVUs). */
  maxInFlight: number;
  targets: Targets;
}

const INGEST_TARGETS: Targets = {
  p99Ms: 20,
  maxFailedRate: 0.001,
  maxDroppedRate: 0.01,
  lagP99Ms: 1000,
  source: "DESIGN.md: ingest p99 ≤ 20 ms; acceptance → score visible p99 ≤ 1 s at 2,000 events/s sustained",
};

const CI_PROFILE: LoadProfile = { kind: "constant", rate: 200, durationSeconds: 10 };

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  pixel: {
    name: "pixel",
    description: WORKLOADS.pixel.description,
    workload: WORKLOADS.pixel,
    profile: { kind: "constant", rate: 5000, durationSeconds: 60 },
    ci: CI_PROFILE,
    maxInFlight: 256,
    targets: INGEST_TARGETS,
  },
  beacon: {
    name: "beacon",
    description: WORKLOADS.beacon.description,
    workload: WORKLOADS.beacon,
    profile: { kind: "constant", rate: 5000, durationSeconds: 60 },
    ci: CI_PROFILE,
    maxInFlight: 256,
    targets: INGEST_TARGETS,
  },
  single: {
    name: "single",
    description: WORKLOADS.single.description,
    workload: WORKLOADS.single,
    profile: { kind: "constant", rate: 5000, durationSeconds: 60 },
    ci: CI_PROFILE,
    maxInFlight: 256,
    targets: INGEST_TARGETS,
  },
  batch: {
    name: "batch",
    description: WORKLOADS.batch.description,
    workload: WORKLOADS.batch,
    // 100 requests/s × 100 events = 10,000 events/s: what one worker is asked to sustain.
    profile: { kind: "constant", rate: 100, durationSeconds: 60 },
    ci: { kind: "constant", rate: 5, durationSeconds: 10 },
    maxInFlight: 64,
    targets: {
      ...INGEST_TARGETS,
      // DESIGN.md sets a throughput target for batches (≥ 300,000 events/s), not a latency one.
      p99Ms: 100,
      source: "DESIGN.md: batch ingest ≥ 300,000 events/s (no latency target; 100 ms per 100-event batch is ours)",
    },
  },
  mix: {
    name: "mix",
    description: WORKLOADS.mix.description,
    workload: WORKLOADS.mix,
    // ≈ 1.7 events per request: ≈ 3,400 events/s.
    profile: { kind: "constant", rate: 2000, durationSeconds: 120 },
    ci: CI_PROFILE,
    maxInFlight: 256,
    targets: INGEST_TARGETS,
  },
  soak: {
    name: "soak",
    description: `30 minutes of the realistic mix at a steady 1,000 requests/s: ${WORKLOADS.mix.description}`,
    workload: WORKLOADS.mix,
    profile: { kind: "constant", rate: 1000, durationSeconds: 30 * 60 },
    ci: CI_PROFILE,
    maxInFlight: 256,
    targets: INGEST_TARGETS,
  },
  stress: {
    name: "stress",
    description: `the realistic mix ramped from 500 to 20,000 requests/s to find where latency and errors break: ${WORKLOADS.mix.description}`,
    workload: WORKLOADS.mix,
    profile: {
      kind: "ramp",
      startRate: 500,
      stages: [
        { target: 2000, durationSeconds: 30 },
        { target: 5000, durationSeconds: 30 },
        { target: 10_000, durationSeconds: 30 },
        { target: 20_000, durationSeconds: 30 },
        { target: 20_000, durationSeconds: 30 },
        { target: 0, durationSeconds: 10 },
      ],
    },
    ci: {
      kind: "ramp",
      startRate: 50,
      stages: [
        { target: 200, durationSeconds: 5 },
        { target: 0, durationSeconds: 5 },
      ],
    },
    maxInFlight: 512,
    targets: {
      ...INGEST_TARGETS,
      // A stress ramp is meant to pass its breaking point: dropped iterations show where it was.
      maxDroppedRate: 0.05,
    },
  },
};

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** Replaces a profile's rate and/or duration (a ramp is scaled so its peak becomes `rate`). */
export function withOverrides(
  profile: LoadProfile,
  overrides: { rate?: number; durationSeconds?: number },
): LoadProfile {
  if (profile.kind === "constant") {
    return {
      kind: "constant",
      rate: overrides.rate ?? profile.rate,
      durationSeconds: overrides.durationSeconds ?? profile.durationSeconds,
    };
  }
  const peak = peakRate(profile);
  const rateScale = overrides.rate !== undefined && peak > 0 ? overrides.rate / peak : 1;
  const total = profileDurationSeconds(profile);
  const timeScale = overrides.durationSeconds !== undefined && total > 0 ? overrides.durationSeconds / total : 1;
  return {
    kind: "ramp",
    startRate: profile.startRate * rateScale,
    stages: profile.stages.map((stage) => ({
      target: stage.target * rateScale,
      durationSeconds: stage.durationSeconds * timeScale,
    })),
  };
}

export function profileDurationSeconds(profile: LoadProfile): number {
  if (profile.kind === "constant") return profile.durationSeconds;
  return profile.stages.reduce((sum, stage) => sum + stage.durationSeconds, 0);
}

export function peakRate(profile: LoadProfile): number {
  if (profile.kind === "constant") return profile.rate;
  return profile.stages.reduce((max, stage) => Math.max(max, stage.target), profile.startRate);
}

/** Requests per second scheduled at `seconds` into the run. */
export function rateAt(profile: LoadProfile, seconds: number): number {
  if (profile.kind === "constant") return seconds < profile.durationSeconds ? profile.rate : 0;
  let from = profile.startRate;
  let start = 0;
  for (const stage of profile.stages) {
    if (seconds < start + stage.durationSeconds) {
      return from + ((stage.target - from) * (seconds - start)) / stage.durationSeconds;
    }
    start += stage.durationSeconds;
    from = stage.target;
  }
  return 0;
}

/** Requests scheduled in the first `seconds` of the run: the integral of the rate (exact for linear ramps). */
export function scheduledBy(profile: LoadProfile, seconds: number): number {
  if (profile.kind === "constant") return profile.rate * Math.min(Math.max(seconds, 0), profile.durationSeconds);
  let total = 0;
  let from = profile.startRate;
  let start = 0;
  for (const stage of profile.stages) {
    const span = Math.min(Math.max(seconds - start, 0), stage.durationSeconds);
    if (span > 0 && stage.durationSeconds > 0) {
      const end = from + ((stage.target - from) * span) / stage.durationSeconds;
      total += ((from + end) / 2) * span;
    }
    start += stage.durationSeconds;
    from = stage.target;
  }
  return total;
}

/** Parses "90", "90s", "5m", "1h30m" into seconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const pattern = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    const value = Number(match[1]);
    const unit = match[2];
    total += unit === "h" ? value * 3600 : unit === "m" ? value * 60 : unit === "ms" ? value / 1000 : value;
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) throw new Error(`not a duration: "${text}" (e.g. 90s, 5m)`);
  return total;
}

/** Seconds as a k6 duration string. */
export function formatDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}
