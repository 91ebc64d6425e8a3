// Reading a Bull job's payload. The edge validated every event before queueing it, so anything malformed here is
// corruption or a producer bug: it must fail loudly once, never be retried, and never hold up the queue.
import {
  EVENT_TYPE_PATTERN,
  ID_PATTERN,
  MAX_METADATA_BYTES,
  metadataProblem,
  type QueuedEvent,
} from "@leadscore/contracts";

/** A job that can never succeed; the queue must not retry it. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export interface ParsedJob {
  events: QueuedEvent[];
  /** Malformed events, by index in the job, with what is wrong with each. */
  rejected: { index: number; problem: string }[];
}

const encoder = new TextEncoder();

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const isEpochMs = (value: unknown) => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

/** What is wrong with one queued event, or null when it can be scored. */
export function queuedEventProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return "is not an object";
  if (typeof value.event_id !== "string" || !ID_PATTERN.test(value.event_id)) return "event_id is malformed";
  if (typeof value.lead_id !== "string" || !ID_PATTERN.test(value.lead_id)) return "lead_id is malformed";
  if (typeof value.event_type !== "string" || !EVENT_TYPE_PATTERN.test(value.event_type)) {
    return "event_type is malformed";
  }
  if (!isEpochMs(value.timestamp)) return "timestamp is not epoch milliseconds";
  if (!isEpochMs(value.received_at)) return "received_at is not epoch milliseconds";
  if (value.metadata !== undefined) {
    if (!isPlainObject(value.metadata)) return "metadata is not an object";
    // Checked again because these keys would make MongoDB refuse the whole document (or worse, act on it).
    const problem = metadataProblem(value.metadata);
    if (problem) return `metadata${problem.path.map((part) => `.${part}`).join("")} ${problem.message}`;
    if (encoder.encode(JSON.stringify(value.metadata)).length > MAX_METADATA_BYTES) return "metadata is too large";
  }
  return null;
}

/**
 * Splits a job's payload into scorable events and malformed ones. Throws a PermanentJobError when the payload is
 * not an `EventsJob` at all (unknown version, no event list), since nothing in it can be trusted.
 */
export function parseEventsJob(data: unknown): ParsedJob {
  if (!isPlainObject(data)) throw new PermanentJobError("job data is not an object");
  if (data.v !== 1) throw new PermanentJobError(`unsupported job version ${JSON.stringify(data.v)}`);
  if (!Array.isArray(data.events)) throw new PermanentJobError("job has no events array");
  const events: QueuedEvent[] = [];
  const rejected: ParsedJob["rejected"] = [];
  data.events.forEach((raw: unknown, index) => {
    const problem = queuedEventProblem(raw);
    if (problem) {
      rejected.push({ index, problem });
      return;
    }
    const event = raw as QueuedEvent;
    events.push({
      event_id: event.event_id,
      lead_id: event.lead_id,
      event_type: event.event_type,
      timestamp: event.timestamp,
      received_at: event.received_at,
      metadata: event.metadata ?? {},
    });
  });
  return { events, rejected };
}

/** The failure reason of a job that had malformed events, naming the first few. */
export function rejectedReason(rejected: ParsedJob["rejected"], total: number): string {
  const shown = rejected
    .slice(0, 5)
    .map(({ index, problem }) => `events[${index}] ${problem}`)
    .join("; ");
  const more = rejected.length > 5 ? `; and ${rejected.length - 5} more` : "";
  return `${rejected.length} of ${total} events malformed (the others were scored): ${shown}${more}`;
}
