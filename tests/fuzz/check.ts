// What every answer of the edge must look like, however bad the request, and what may never be stored.
import {
  ERROR_STATUS,
  type ErrorCode,
  EventInputSchema,
  metadataProblem,
  type QueuedEvent,
  unstorableProblem,
} from "@leadscore/contracts";
import type { EventsJob } from "@leadscore/runtime";
import type { Queue } from "bull";
import type { Db } from "mongodb";
import { z } from "zod";

export const ErrorBodySchema = z.strictObject({
  error: z.strictObject({
    // Every documented code but INTERNAL, which a request must never be able to provoke.
    code: z.enum(Object.keys(ERROR_STATUS).filter((code) => code !== "INTERNAL") as [ErrorCode, ...ErrorCode[]]),
    message: z.string().min(1),
    details: z.array(z.strictObject({ path: z.string(), message: z.string() })),
  }),
});

/**
 * Returns what is wrong with a response to a hostile request, or null. No 5xx (503 only as SERVICE_UNAVAILABLE,
 * which these tests never provoke), and every JSON error in the documented shape.
 */
export async function responseProblem(what: string, response: Response, head = false): Promise<string | null> {
  const text = await response.text();
  if (response.status >= 500) return `${what} → ${response.status}: ${text.slice(0, 300)}`;
  // A HEAD answer has the GET answer's headers and no body.
  if (head) return null;
  const type = response.headers.get("content-type") ?? "";
  if (response.status >= 400) {
    if (!type.startsWith("application/json")) return `${what} → ${response.status} with content-type ${type}`;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `${what} → ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`;
    }
    const parsed = ErrorBodySchema.safeParse(body);
    if (!parsed.success) return `${what} → ${response.status} not in the error shape: ${text.slice(0, 300)}`;
  }
  return null;
}

/** What is wrong with a queued event, by the edge's own input rules; null when it is what the edge may queue. */
export function queuedProblem(event: QueuedEvent): string | null {
  const keys = Object.keys(event).sort().join(",");
  if (keys !== "event_id,event_type,lead_id,metadata,received_at,timestamp") return `fields ${keys}`;
  const input = EventInputSchema.safeParse({
    event_id: event.event_id,
    lead_id: event.lead_id,
    event_type: event.event_type,
    timestamp: event.timestamp,
    metadata: event.metadata,
  });
  if (!input.success) return input.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  if (!Number.isSafeInteger(event.timestamp) || event.timestamp < 0) return `timestamp ${event.timestamp}`;
  if (!Number.isSafeInteger(event.received_at)) return `received_at ${event.received_at}`;
  if (Object.getPrototypeOf(event.metadata) !== Object.prototype) return "metadata has an unusual prototype";
  // Nothing queued the store would refuse or keep altered (the test edges keep the default limits).
  const problem = metadataProblem(event.metadata) ?? unstorableProblem(event.metadata);
  return problem && `metadata.${problem.path.join(".")}: ${problem.message}`;
}

export async function queuedEvents(queue: Queue): Promise<QueuedEvent[]> {
  const jobs = await queue.getJobs(["waiting", "active", "delayed", "paused"]);
  return jobs.flatMap((job) => (job.data as EventsJob).events);
}

const FORBIDDEN_KEY = /^\$|\.|^__proto__$|^constructor$|^prototype$/;

/** Paths of keys in a stored document that MongoDB or JavaScript would read as more than data. */
export function forbiddenKeys(value: unknown, path = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => forbiddenKeys(item, `${path}[${i}]`));
  if (value === null || typeof value !== "object" || value instanceof Date) return [];
  return Object.keys(value).flatMap((key) => {
    const here = path ? `${path}.${key}` : key;
    const own = FORBIDDEN_KEY.test(key) ? [here] : [];
    return [...own, ...forbiddenKeys((value as Record<string, unknown>)[key], here)];
  });
}

export async function storedForbiddenKeys(db: Db): Promise<string[]> {
  const found: string[] = [];
  for (const name of ["leads", "rules", "events", "history_pages"]) {
    for (const doc of await db.collection(name).find({}).toArray()) {
      for (const path of forbiddenKeys(doc)) found.push(`${name}/${String(doc._id)}: ${path}`);
    }
  }
  return found;
}
