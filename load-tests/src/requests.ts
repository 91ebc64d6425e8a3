// HTTP requests as plain data: built once here, sent by k6's http module or by the Node harness, and their
// responses read back into per-event outcomes the same way by both.
import type { PlannedEvent } from "./payloads.ts";

/** The ingestion endpoints of the edge. */
export type Endpoint = "event" | "batch" | "pixel" | "beacon";

export const ENDPOINTS: readonly Endpoint[] = ["event", "batch", "pixel", "beacon"];

export const ENDPOINT_ROUTES: Record<Endpoint, string> = {
  event: "POST /api/events",
  batch: "POST /api/batch",
  pixel: "GET /p.gif",
  beacon: "POST /beacon",
};

export interface PlannedRequest {
  endpoint: Endpoint;
  method: "GET" | "POST";
  /** Path and query, relative to the base URL. */
  path: string;
  headers: Record<string, string>;
  body: string | null;
  events: PlannedEvent[];
}

/**
 * What the edge said about one event: `accepted` (202, or accepted inside a batch), `duplicate` (200 duplicate,
 * or a duplicate inside a batch), `rejected` (400, or rejected inside a batch), `delivered` (pixel and beacon
 * answer 200/204 whatever became of the event), `error` (no answer, 401, 413, 429, 5xx, or an unexpected shape).
 */
export type EventOutcome = "accepted" | "duplicate" | "rejected" | "delivered" | "error";

export interface InterpretedResponse {
  outcomes: EventOutcome[];
  /** The status and body match the HTTP contract for what was sent. */
  conforms: boolean;
}

function query(params: Record<string, string>): string {
  return Object.keys(params)
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(params[key] as string)}`)
    .join("&");
}

/** Builds the request that sends `events` through `endpoint`, authenticated the way real clients of it are. */
export function buildRequest(endpoint: Endpoint, events: PlannedEvent[], writeKey: string): PlannedRequest {
  const first = events[0];
  if (!first) throw new Error("buildRequest: no events");
  const json = { "content-type": "application/json", authorization: `Bearer ${writeKey}` };
  switch (endpoint) {
    case "event":
      if (events.length !== 1) throw new Error("buildRequest: POST /api/events carries exactly one event");
      return {
        endpoint,
        method: "POST",
        path: "/api/events",
        headers: json,
        body: JSON.stringify(first.event),
        events,
      };
    case "batch":
      return {
        endpoint,
        method: "POST",
        path: "/api/batch",
        headers: json,
        body: JSON.stringify({ events: events.map((planned) => planned.event) }),
        events,
      };
    case "pixel": {
      if (events.length !== 1) throw new Error("buildRequest: a pixel carries exactly one event");
      // Browsers load pixels with no headers of their own: the key rides in the query string.
      const params = {
        lead_id: first.event.lead_id,
        event_type: first.event.event_type,
        event_id: first.event.event_id,
        ts: String(first.event.timestamp),
        key: writeKey,
      };
      return { endpoint, method: "GET", path: `/p.gif?${query(params)}`, headers: {}, body: null, events };
    }
    case "beacon": {
      // navigator.sendBeacon with a string body sends text/plain and cannot set headers.
      const body = events.length === 1 ? first.event : { events: events.map((planned) => planned.event) };
      return {
        endpoint,
        method: "POST",
        path: `/beacon?${query({ key: writeKey })}`,
        headers: { "content-type": "text/plain;charset=UTF-8" },
        body: JSON.stringify(body),
        events,
      };
    }
  }
}

/** Statuses the contract allows for this request; anything else counts as a failed request. */
export function expectedStatuses(request: PlannedRequest): number[] {
  switch (request.endpoint) {
    case "event":
      return request.events[0]?.kind === "invalid" ? [400] : [200, 202];
    case "batch":
      return [202];
    case "pixel":
      return [200];
    case "beacon":
      return [204];
  }
}

function parseJson(body: string | null): unknown {
  if (body === null || body === "") return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads one batch item status; the contract names them accepted / duplicate / rejected. */
function batchItemOutcome(status: unknown): EventOutcome {
  if (typeof status !== "string") return "error";
  const normalized = status.toLowerCase();
  if (normalized.startsWith("accept")) return "accepted";
  if (normalized.startsWith("dup")) return "duplicate";
  if (normalized.startsWith("reject") || normalized === "invalid") return "rejected";
  return "error";
}

/** A duplicate resend may win the race with its in-flight original; either answer is then within contract. */
function outcomeConforms(kind: PlannedEvent["kind"], outcome: EventOutcome): boolean {
  switch (kind) {
    case "invalid":
      return outcome === "rejected" || outcome === "delivered";
    case "duplicate":
      return outcome === "duplicate" || outcome === "accepted" || outcome === "delivered";
    default:
      return outcome === "accepted" || outcome === "delivered";
  }
}

/** Turns a status (0 when no response arrived) and body into one outcome per event sent. */
export function interpretResponse(request: PlannedRequest, status: number, body: string | null): InterpretedResponse {
  const all = (outcome: EventOutcome) => request.events.map(() => outcome);
  let outcomes: EventOutcome[];
  switch (request.endpoint) {
    case "event": {
      const parsed = parseJson(body);
      if (status === 202 && isObject(parsed) && parsed.duplicate !== true) outcomes = ["accepted"];
      else if (status === 200 && isObject(parsed) && parsed.duplicate === true) outcomes = ["duplicate"];
      else if (status === 400) outcomes = ["rejected"];
      else outcomes = ["error"];
      break;
    }
    case "batch": {
      const parsed = parseJson(body);
      const results = isObject(parsed) && Array.isArray(parsed.results) ? parsed.results : null;
      if (status !== 202 || results === null) {
        outcomes = all("error");
        break;
      }
      outcomes = all("error");
      for (const item of results) {
        if (isObject(item) && typeof item.index === "number" && item.index >= 0 && item.index < outcomes.length) {
          outcomes[item.index] = batchItemOutcome(item.status);
        }
      }
      break;
    }
    case "pixel":
      outcomes = all(status === 200 ? "delivered" : "error");
      break;
    case "beacon":
      outcomes = all(status === 204 ? "delivered" : "error");
      break;
  }
  const conforms =
    expectedStatuses(request).includes(status) &&
    request.events.every((planned, index) => outcomeConforms(planned.kind, outcomes[index] ?? "error"));
  return { outcomes, conforms };
}
