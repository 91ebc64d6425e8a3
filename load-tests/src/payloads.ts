// Event generators shared by the k6 scripts and the Node harness. Every event of a run carries the run id in its
// lead and event ids, so a run's data can be found (and audited) in a database other runs also write to.
import { createRandom, createWeighted, createZipf, hashSeed, type Random } from "./random.ts";

/** An event as the load generator sends it (the edge's input shape). */
export interface LoadEvent {
  event_id: string;
  lead_id: string;
  event_type: string;
  /** Event time, epoch ms. */
  timestamp: number;
  metadata?: Record<string, unknown>;
}

/**
 * Why an event was generated: `fresh` (new id, current time), `late` (new id, minutes in the past), `duplicate`
 * (an earlier event resent unchanged, as a client retry would) or `invalid` (new id, refused by contract: its
 * timestamp is too far in the future).
 */
export type EventKind = "fresh" | "late" | "duplicate" | "invalid";

export interface PlannedEvent {
  event: LoadEvent;
  kind: EventKind;
  /** Zipf rank of the lead: 0 is the hottest. */
  leadRank: number;
}

export interface EventMix {
  /** Distinct leads the events spread over. */
  leads: number;
  /** Zipf exponent of the lead popularity: higher means fewer, hotter leads. */
  zipfExponent: number;
  /** Fraction of events that resend an earlier event unchanged (same `event_id`). */
  duplicateRate: number;
  /** Fraction of events stamped minutes in the past. */
  lateRate: number;
  /** Fraction of events the edge must refuse (timestamp more than 5 minutes ahead). */
  invalidRate: number;
  /** How far back a late event is stamped, in minutes: uniform in [min, max]. */
  lateMinutes: readonly [number, number];
  /** Relative frequency of each event type (the default rules' types plus one without a rule). */
  eventTypes: readonly (readonly [string, number])[];
  /** Duplicates resend one of the last this-many distinct events. */
  retryWindow: number;
}

export const DEFAULT_EVENT_TYPES: readonly (readonly [string, number])[] = [
  ["page_view", 50],
  ["email_open", 25],
  ["form_submission", 10],
  ["demo_request", 6],
  ["purchase", 4],
  // A type with no rule: accepted, recorded, scores 0.
  ["video_play", 5],
];

/** The realistic mix: many leads with a few hot ones, 5% client retries, 2% late events, 1% refused events. */
export const REALISTIC_MIX: EventMix = {
  leads: 10_000,
  zipfExponent: 1,
  duplicateRate: 0.05,
  lateRate: 0.02,
  invalidRate: 0.01,
  lateMinutes: [2, 30],
  eventTypes: DEFAULT_EVENT_TYPES,
  retryWindow: 512,
};

/** Clean traffic for throughput scenarios: every event fresh and valid, spread over many leads. */
export const CLEAN_MIX: EventMix = {
  ...REALISTIC_MIX,
  duplicateRate: 0,
  lateRate: 0,
  invalidRate: 0,
};

const MINUTE_MS = 60_000;
/** Far enough ahead to be refused whatever the clock skew between generator and edge (limit: 5 minutes). */
const INVALID_FUTURE_MS = 60 * MINUTE_MS;

const PATHS = ["/", "/pricing", "/docs", "/blog/scoring", "/careers", "/contact"];
const CAMPAIGNS = ["spring-launch", "weekly-digest", "webinar-invite", "renewal"];

function metadataFor(eventType: string, random: Random): Record<string, unknown> | undefined {
  switch (eventType) {
    case "page_view":
      return { path: PATHS[Math.floor(random() * PATHS.length)], referrer: "https://example.com/" };
    case "email_open":
      return { campaign: CAMPAIGNS[Math.floor(random() * CAMPAIGNS.length)] };
    case "form_submission":
      return { form: "contact", fields: 4 };
    case "purchase":
      return { plan: "team", amount_cents: 49_00, currency: "EUR" };
    default:
      return undefined;
  }
}

/** A run id: short, sortable by start time, and valid inside event and lead ids. */
export function createRunId(now: number, random: Random): string {
  const suffix = Math.floor(random() * 36 ** 4)
    .toString(36)
    .padStart(4, "0");
  return `lt${now.toString(36)}${suffix}`;
}

/** Lead ids of a run: `<run>.lead-<rank>`, so rank 0 is the hottest lead. */
export function leadIdFor(runId: string, rank: number): string {
  return `${runId}.lead-${rank}`;
}

/** The smallest and just-past-largest id of a run's leads and events, for range queries. */
export function runIdRange(runId: string): { gte: string; lt: string } {
  // "." sorts just before "/", so every `<run>.…` id falls in [<run>., <run>/).
  return { gte: `${runId}.`, lt: `${runId}/` };
}

export interface EventGeneratorOptions {
  runId: string;
  /** Distinguishes concurrent generators of one run (k6 VUs), so their event ids never collide. */
  source: string;
  mix: EventMix;
  /** Defaults to a seed derived from run id and source, so a run can be replayed. */
  random?: Random;
}

export interface EventGenerator {
  /** The next event to send; `now` is the send time in epoch ms. */
  next(now: number): PlannedEvent;
}

export function createEventGenerator(options: EventGeneratorOptions): EventGenerator {
  const { runId, source, mix } = options;
  const random = options.random ?? createRandom(hashSeed(`${runId}/${source}`));
  const zipf = createZipf(mix.leads, mix.zipfExponent, random);
  const pickType = createWeighted(mix.eventTypes, random);
  const recent: PlannedEvent[] = [];
  let recentNext = 0;
  let sequence = 0;
  const [lateMin, lateMax] = mix.lateMinutes;

  const remember = (planned: PlannedEvent) => {
    if (mix.retryWindow <= 0) return;
    if (recent.length < mix.retryWindow) recent.push(planned);
    else recent[recentNext] = planned;
    recentNext = (recentNext + 1) % mix.retryWindow;
  };

  return {
    next(now) {
      const roll = random();
      if (roll < mix.duplicateRate && recent.length > 0) {
        const original = recent[Math.floor(random() * recent.length)] as PlannedEvent;
        return { event: original.event, kind: "duplicate", leadRank: original.leadRank };
      }
      let kind: EventKind = "fresh";
      let timestamp = now;
      if (roll < mix.duplicateRate + mix.lateRate) {
        kind = "late";
        timestamp = now - Math.round((lateMin + random() * (lateMax - lateMin)) * MINUTE_MS);
      } else if (roll < mix.duplicateRate + mix.lateRate + mix.invalidRate) {
        kind = "invalid";
        timestamp = now + INVALID_FUTURE_MS;
      }
      const leadRank = zipf.sample();
      const eventType = pickType();
      sequence += 1;
      const event: LoadEvent = {
        event_id: `${runId}.${source}.${sequence.toString(36)}`,
        lead_id: leadIdFor(runId, leadRank),
        event_type: eventType,
        timestamp,
      };
      const metadata = metadataFor(eventType, random);
      if (metadata) event.metadata = metadata;
      const planned: PlannedEvent = { event, kind, leadRank };
      if (kind !== "invalid") remember(planned);
      return planned;
    },
  };
}
