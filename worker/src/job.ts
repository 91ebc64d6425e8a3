// Reading a Bull job's payload. The edge validated every event before queueing it, so anything malformed here is
// corruption or a producer bug: it must fail loudly once, never be retried, and never hold up the queue.
import { type MergeRequest, MergeRequestSchema, type QueuedEvent, QueuedEventSchema } from "@leadscore/contracts";

/** A job that can never succeed; the queue must not retry it. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

export interface ParsedJob {
  events: QueuedEvent[];
  /** Merges of ids (identify, admin merge), recorded before the job's events are scored. */
  merges: MergeRequest[];
  /** Malformed events, by index in the job, with what is wrong with each. */
  rejected: { index: number; problem: string }[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** One queued event checked with the shared schema: the event to score, or what is wrong with it. */
function queuedEventOrProblem(value: unknown): QueuedEvent | string {
  const parsed = QueuedEventSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue === undefined || issue.path.length === 0) return "is not an object";
  return `${issue.path.map(String).join(".")} is malformed: ${issue.message}`;
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
  const merges: MergeRequest[] = [];
  if (data.merges !== undefined) {
    const parsed = MergeRequestSchema.array().safeParse(data.merges);
    if (!parsed.success) throw new PermanentJobError(`job has malformed merges: ${parsed.error.issues[0]?.message}`);
    merges.push(...parsed.data);
  }
  data.events.forEach((raw: unknown, index) => {
    const checked = queuedEventOrProblem(raw);
    if (typeof checked === "string") rejected.push({ index, problem: checked });
    else events.push(checked);
  });
  return { events, merges, rejected };
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
