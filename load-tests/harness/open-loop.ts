// An open-loop, constant-arrival-rate driver: requests start when the schedule says, not when earlier ones end, so
// a slow server shows up as latency (and as dropped iterations once too many are in flight) instead of silently
// lowering the rate — the coordinated-omission trap of closed-loop load generators.
import { type LoadProfile, profileDurationSeconds, scheduledBy } from "../src/scenarios.ts";

export interface OpenLoopOptions {
  profile: LoadProfile;
  /** Requests allowed in flight; a scheduled request beyond it is dropped and counted (as k6's dropped_iterations). */
  maxInFlight: number;
  /** Starts one request; must not throw (failures are the caller's to record). */
  fire(): Promise<void>;
  /** Called with the seconds elapsed; lets the caller stop early by returning false. */
  shouldContinue?(elapsedSeconds: number): boolean;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface OpenLoopResult {
  scheduled: number;
  started: number;
  dropped: number;
  /** Wall time from the first scheduled request to the end of the schedule (in-flight requests not included). */
  elapsedSeconds: number;
}

export interface OpenLoop {
  readonly inFlight: number;
  readonly started: number;
  readonly dropped: number;
  /** Runs the schedule, then waits for every request still in flight. */
  run(): Promise<OpenLoopResult>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createOpenLoop(options: OpenLoopOptions): OpenLoop {
  const clock = options.clock ?? (() => performance.now());
  const sleep = options.sleep ?? defaultSleep;
  let inFlight = 0;
  let started = 0;
  let dropped = 0;
  let idle: (() => void) | null = null;

  const launch = () => {
    inFlight += 1;
    started += 1;
    options.fire().finally(() => {
      inFlight -= 1;
      if (inFlight === 0 && idle) idle();
    });
  };

  return {
    get inFlight() {
      return inFlight;
    },
    get started() {
      return started;
    },
    get dropped() {
      return dropped;
    },
    async run() {
      const duration = profileDurationSeconds(options.profile);
      const total = Math.floor(scheduledBy(options.profile, duration) + 1e-9);
      const begin = clock();
      let issued = 0;
      let elapsed = 0;
      while (issued < total) {
        elapsed = (clock() - begin) / 1000;
        if (options.shouldContinue && !options.shouldContinue(elapsed)) break;
        const due = Math.min(total, Math.floor(scheduledBy(options.profile, elapsed) + 1e-9));
        while (issued < due) {
          issued += 1;
          if (inFlight >= options.maxInFlight) dropped += 1;
          else launch();
        }
        if (issued < total) await sleep(1);
      }
      elapsed = (clock() - begin) / 1000;
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
      return { scheduled: issued, started, dropped, elapsedSeconds: elapsed };
    },
  };
}
