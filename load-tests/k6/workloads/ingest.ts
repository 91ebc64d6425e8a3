// One iteration of any ingestion workload: plan the next request from the shared definitions, send it, and count
// what the edge said about each event.
import { check } from "k6";
import { Counter } from "k6/metrics";
import { interpretResponse } from "../../src/requests.ts";
import { createRequestPlanner, type RequestPlanner, type Workload } from "../../src/workloads.ts";
import type { IngestClient } from "../clients/ingest-client.ts";

const eventsSent = new Counter("events_sent");
const eventsAccepted = new Counter("events_accepted");
const eventsDuplicate = new Counter("events_duplicate");
const eventsRejected = new Counter("events_rejected");
const eventsDelivered = new Counter("events_delivered");
const eventsError = new Counter("events_error");

const OUTCOME_COUNTERS = {
  accepted: eventsAccepted,
  duplicate: eventsDuplicate,
  rejected: eventsRejected,
  delivered: eventsDelivered,
  error: eventsError,
};

export interface RunData {
  runId: string;
}

// Module state is per VU in k6: each VU plans its own events under its own id prefix.
let planner: RequestPlanner | undefined;

export function runIngestIteration(workload: Workload, client: IngestClient, writeKey: string, data: RunData): void {
  planner ??= createRequestPlanner({ workload, runId: data.runId, source: `v${__VU}`, writeKey });
  const request = planner.next(Date.now());
  const response = client.send(request);
  const { outcomes, conforms } = interpretResponse(request, response.status, response.body);
  const tags = { endpoint: request.endpoint };
  eventsSent.add(request.events.length, tags);
  for (const outcome of outcomes) OUTCOME_COUNTERS[outcome].add(1, tags);
  check(response, { "answer follows the ingestion contract": () => conforms }, tags);
}
