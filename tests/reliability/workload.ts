// The traffic of the fault test: events with known ids over a few dozen leads (so leads see concurrent and late
// events), through every ingestion route, with client resends of earlier events and a few events the edge must
// refuse. Deterministic for a seed, so a failing run can be repeated.

import type { RuleSet } from "@leadscore/contracts";
import { createRandom } from "@leadscore/load-tests/random";
import type { Db } from "mongodb";
import { putRuleSet } from "../../test-support/rule-sets.ts";
import type { ClientEvent, Route, Send } from "./client.ts";

/** An extra rule the fault test stores, so scores also meet the floor at 0. */
export const NEGATIVE_RULE = { event_type: "unsubscribe", points: -40 };

/**
 * The rules the fault tests score with (scoring model v2): page views limited per day, pricing views on top (a
 * condition), email opens once per email in a group with a max, the negative rule in that group, and plain rules —
 * so crashes and restarts meet limits a late event takes from a later one, and groups at their max.
 */
export const FAULT_RULES: RuleSet = {
  version: 1,
  groups: [
    { _id: "web", label: "Website", max: 150 },
    { _id: "email", label: "Email", max: 60 },
  ],
  rules: [
    {
      _id: "view",
      label: "View",
      event_type: "page_view",
      points: 5,
      limit: { max: 3, per: "day" },
      group: "web",
      active: true,
    },
    {
      _id: "pricing",
      label: "Pricing",
      event_type: "page_view",
      where: { field: "metadata.path", op: "starts_with", value: "/pricing" },
      points: 20,
      limit: { max: 2, per: "day" },
      active: true,
    },
    {
      _id: "open",
      label: "Open",
      event_type: "email_open",
      points: 10,
      limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      group: "email",
      active: true,
    },
    { _id: "form", label: "Form", event_type: "form_submission", points: 20, active: true },
    { _id: "demo", label: "Demo", event_type: "demo_request", points: 50, group: "web", active: true },
    { _id: "purchase", label: "Purchase", event_type: "purchase", points: 100, active: true },
    { _id: "unsubscribe", label: "Unsubscribe", group: "email", active: true, ...NEGATIVE_RULE },
  ],
};

/** Puts the fault tests' rules in force. */
export const putFaultRules = (db: Db) => putRuleSet(db, FAULT_RULES);

const TYPES: [string, number][] = [
  ["page_view", 40],
  ["email_open", 20],
  ["form_submission", 10],
  ["demo_request", 8],
  ["purchase", 8],
  [NEGATIVE_RULE.event_type, 8],
  // No rule: accepted, recorded, scores 0.
  ["video_play", 6],
];

export interface WorkloadOptions {
  runId: string;
  /** Distinct events to send (resends and refused events come on top). */
  events: number;
  /** Events per second. */
  rate: number;
  leads?: number;
  seed?: number;
  /** Share of events stamped up to `lateMs` before their send time, so they arrive late for their lead. */
  lateRate?: number;
  lateMs?: number;
  /** Mean events per batch request (uniform from half to one and a half times this). */
  batchSize?: number;
  /** Lead ids are `<leadPrefix><n>` (default `<runId>-lead-`): another run's leads, to send events to leads it made. */
  leadPrefix?: string;
}

export function buildWorkload(options: WorkloadOptions): Send[] {
  const random = createRandom(options.seed ?? 1);
  const leads = options.leads ?? 40;
  const leadPrefix = options.leadPrefix ?? `${options.runId}-lead-`;
  const lateRate = options.lateRate ?? 0.05;
  const lateMs = options.lateMs ?? 5 * 60_000;
  const now = Date.now();
  const total = TYPES.reduce((sum, [, weight]) => sum + weight, 0);
  const pickType = () => {
    let roll = random() * total;
    for (const [type, weight] of TYPES) {
      roll -= weight;
      if (roll < 0) return type;
    }
    return "page_view";
  };
  let next = 0;
  let scheduled = 0;
  const fresh = (): ClientEvent => {
    // Stamped a moment before it is due to be sent, like a tracker; some events come from a slow device's buffer.
    const sentAt = Math.floor(now + (scheduled * 1000) / options.rate) - 1000;
    return {
      event_id: `${options.runId}-${next++}`,
      // Squaring skews traffic towards the first leads, which then see many concurrent writers.
      lead_id: `${leadPrefix}${Math.floor(random() ** 2 * leads)}`,
      event_type: pickType(),
      timestamp: random() < lateRate ? sentAt - Math.floor(random() * lateMs) : sentAt,
      metadata: { email_id: `n${Math.floor(random() * 6)}`, path: random() < 0.4 ? "/pricing" : "/blog" },
    };
  };
  const refusedEvent = (): ClientEvent => ({ ...fresh(), timestamp: now + 60 * 60_000 });

  const sends: Send[] = [];
  const sentEvents: ClientEvent[] = [];
  const push = (route: Route, events: ClientEvent[], invalid: ClientEvent[] = []) => {
    sends.push({
      route,
      events,
      invalid: new Set(invalid.map((event) => event.event_id)),
      atMs: (scheduled * 1000) / options.rate,
    });
    scheduled += events.length;
    for (const event of events) if (!invalid.includes(event)) sentEvents.push(event);
  };
  const resendOf = () => sentEvents[Math.floor(random() * sentEvents.length)] as ClientEvent;

  while (next < options.events) {
    const roll = random();
    if (roll < 0.03 && sentEvents.length > 0) {
      // A client retry of an earlier event, unchanged: must come back "duplicate" and count once.
      push("events", [resendOf()]);
    } else if (roll < 0.05) {
      const bad = refusedEvent();
      push("events", [bad], [bad]);
    } else if (roll < 0.6) {
      push("events", [fresh()]);
    } else if (roll < 0.8) {
      const mean = options.batchSize ?? 12;
      const size = Math.max(1, Math.round(mean / 2 + random() * mean));
      const events = Array.from({ length: size }, fresh);
      const invalid: ClientEvent[] = [];
      if (random() < 0.3) {
        const bad = refusedEvent();
        events.splice(Math.floor(random() * events.length), 0, bad);
        invalid.push(bad);
      }
      if (random() < 0.3 && sentEvents.length > 0) events.push(resendOf());
      push("batch", events, invalid);
    } else if (roll < 0.92) {
      push("pixel", [fresh()]);
    } else {
      push("beacon", Array.from({ length: 3 }, fresh));
    }
  }
  return sends;
}
