// A reproducible random workload: many leads, mixed rules (one negative, one inactive, one unknown type), event
// times unrelated to arrival order (so many events are late), repeated ids, and jobs of random sizes.
import { foldScores, type QueuedEvent, type ScorableEvent } from "@leadscore/contracts";
import { T0, TEST_RULES } from "./helpers.ts";

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

export function workload(seed: number, leadCount: number, perLead: number, label: string): Workload {
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
        // Few distinct times, so equal timestamps (ordered by id) happen too.
        timestamp: T0 + Math.floor(next() * 50) * 1_000,
        received_at: Date.now(),
        metadata: { i },
      });
    }
  }
  const arrival = [...events, ...events.filter(() => next() < 0.1)];
  for (let i = arrival.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    const a = arrival[i] as QueuedEvent;
    arrival[i] = arrival[j] as QueuedEvent;
    arrival[j] = a;
  }
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
