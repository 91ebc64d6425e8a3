// A reproducible random workload: many leads, mixed rules (one negative, one inactive, one unknown type), event
// times unrelated to arrival order (so many events are late), repeated ids, and jobs of random sizes.
import { foldScores, type QueuedEvent, type ScorableEvent } from "@leadscore/contracts";
import { createRandom } from "@leadscore/load-tests/random";
import { T0, TEST_RULES } from "../../test-support/worker-stack.ts";

/** mulberry32: the same sequence for the same seed. */
export const random = createRandom;

const TYPES = [
  "page_view",
  "email_open",
  "form_submission",
  "demo_request",
  "purchase",
  "unsubscribe",
  "big",
  "dormant",
  "unknown_thing",
];

export interface Workload {
  /** Every distinct event once. */
  events: QueuedEvent[];
  /** The events as they will arrive: shuffled, some twice. */
  arrival: QueuedEvent[];
  leads: string[];
}

/**
 * `disorder` is how far (in events of the whole stream) an event may arrive from its place in time order; Infinity
 * shuffles the stream completely.
 */
export function workload(seed: number, leadCount: number, perLead: number, label: string, disorder = 40): Workload {
  const next = random(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
  const leads = Array.from({ length: leadCount }, (_, i) => `${label}-lead-${i}`);
  const events: QueuedEvent[] = [];
  for (const lead of leads) {
    for (let i = 0; i < perLead; i += 1) {
      events.push({
        event_id: `${lead}-e${i}`,
        lead_id: lead,
        event_type: pick(TYPES),
        // Increasing per lead, in whole seconds so equal timestamps (ordered by id) happen across leads.
        timestamp: T0 + (i * 10 + Math.floor(next() * 10)) * 1_000,
        received_at: Date.now(),
        metadata: { i },
      });
    }
  }
  // Time order across leads, then each event moved by up to `disorder` places; repeats land anywhere.
  const inTime = [...events].sort((a, b) => a.timestamp - b.timestamp);
  const keyed = inTime.map((event, i) => ({ event, at: i + next() * Math.min(disorder, inTime.length) }));
  for (const event of events.filter(() => next() < 0.1)) keyed.push({ event, at: next() * inTime.length });
  const arrival = keyed.sort((a, b) => a.at - b.at).map((item) => item.event);
  return { events, arrival, leads };
}

/** What the pure fold says each lead's history should be, with the test rules' points. */
export function expectedFold(events: QueuedEvent[], cap: number) {
  const points = new Map(TEST_RULES.filter((rule) => rule.active).map((rule) => [rule.event_type, rule]));
  const byLead = new Map<string, ScorableEvent[]>();
  for (const event of events) {
    const rule = points.get(event.event_type);
    const scorable: ScorableEvent = {
      event_id: event.event_id,
      lead_id: event.lead_id,
      event_type: event.event_type,
      timestamp: event.timestamp,
      received_at: event.received_at,
      points: rule?.points ?? 0,
      rule_id: rule?._id ?? null,
    };
    byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), scorable]);
  }
  return new Map([...byLead].map(([lead, list]) => [lead, foldScores(list, cap)]));
}
