// A workload is what one iteration sends: which endpoint, how many events, drawn from which event mix.
import { CLEAN_MIX, createEventGenerator, type EventMix, type PlannedEvent, REALISTIC_MIX } from "./payloads.ts";
import { createRandom, createWeighted, hashSeed, type Random } from "./random.ts";
import { buildRequest, type Endpoint, type PlannedRequest } from "./requests.ts";

export type WorkloadName = "pixel" | "beacon" | "single" | "batch" | "mix";

export interface Workload {
  name: WorkloadName;
  description: string;
  mix: EventMix;
  /** Share of iterations per endpoint. */
  endpoints: readonly (readonly [Endpoint, number])[];
  /** Events per request on the batch endpoint (and on multi-event beacons when above 1). */
  batchSize: number;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  pixel: {
    name: "pixel",
    description: "GET /p.gif, one fresh event per request",
    mix: CLEAN_MIX,
    endpoints: [["pixel", 1]],
    batchSize: 1,
  },
  beacon: {
    name: "beacon",
    description: "POST /beacon (text/plain, as navigator.sendBeacon sends), one fresh event per request",
    mix: CLEAN_MIX,
    endpoints: [["beacon", 1]],
    batchSize: 1,
  },
  single: {
    name: "single",
    description: "POST /api/events, one fresh event per request",
    mix: CLEAN_MIX,
    endpoints: [["event", 1]],
    batchSize: 1,
  },
  batch: {
    name: "batch",
    description: "POST /api/batch, 100 fresh events per request",
    mix: CLEAN_MIX,
    endpoints: [["batch", 1]],
    batchSize: 100,
  },
  mix: {
    name: "mix",
    description:
      "all four endpoints (60% events, 20% pixel, 12% beacon, 8% batches of 10) over 10,000 Zipf-distributed leads, " +
      "with 5% duplicate retries, 2% late events and 1% refused events",
    mix: REALISTIC_MIX,
    endpoints: [
      ["event", 60],
      ["pixel", 20],
      ["beacon", 12],
      ["batch", 8],
    ],
    batchSize: 10,
  },
};

export interface RequestPlannerOptions {
  workload: Workload;
  runId: string;
  /** Distinguishes concurrent planners of one run (k6 VUs). */
  source: string;
  writeKey: string;
  random?: Random;
}

export interface RequestPlanner {
  /** The next request to send; `now` is the send time in epoch ms. */
  next(now: number): PlannedRequest;
}

export function createRequestPlanner(options: RequestPlannerOptions): RequestPlanner {
  const { workload, runId, source, writeKey } = options;
  const random = options.random ?? createRandom(hashSeed(`${runId}/${source}/requests`));
  const events = createEventGenerator({ runId, source, mix: workload.mix, random });
  const pickEndpoint = createWeighted(workload.endpoints, random);
  return {
    next(now) {
      const endpoint = pickEndpoint();
      const count = endpoint === "batch" ? workload.batchSize : 1;
      const planned: PlannedEvent[] = [];
      for (let i = 0; i < count; i++) planned.push(events.next(now));
      return buildRequest(endpoint, planned, writeKey);
    },
  };
}

/** Expected events per request of a workload, to turn a request rate into an event rate. */
export function eventsPerRequest(workload: Workload): number {
  let total = 0;
  let weighted = 0;
  for (const [endpoint, weight] of workload.endpoints) {
    total += weight;
    weighted += weight * (endpoint === "batch" ? workload.batchSize : 1);
  }
  return weighted / total;
}
