import type { EventsJob, QueuedEvent } from "@leadscore/contracts";
import type { Queue } from "bull";

export const WRITE_KEY = "test-write-key";
export const JSON_HEADERS = { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` };

export function post(body: unknown, headers: Record<string, string> = JSON_HEADERS): RequestInit {
  return { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) };
}

/** Every event in the queue's waiting jobs, in the order they were queued. */
export async function queuedEvents(queue: Queue): Promise<QueuedEvent[]> {
  const jobs = await queue.getWaiting(0, -1);
  return jobs.reverse().flatMap((job) => (job.data as EventsJob).events);
}
