// Scoring model v2's pure core against v1's, on the same events in the same run: matching (v1: a map from event type
// to points; v2: the compiled rule set of bench/realistic-rules.ts, 40 rules, half with conditions, limits on every
// email and page-view rule, three groups) and folding (each lead's events, sorted, through `foldScores` and
// `foldScoresV2`), and the v2 fold with score decay (`foldScoresDecay`, half-life `--half-life` seconds, 30 days by
// default, decay entries derived up to the end of the events) beside it. CPU only: no Redis, no MongoDB; timed in the
// process's CPU time.
//
//   npm run bench:rules                                  # 200,000 events over 20,000 leads, 3 rounds
//   npm run bench:rules -- --events 1000000 --leads 100000 --rounds 5
//
// Events are spread evenly over leads and over 60 days (so day, week and month buckets change), with the realistic
// set's event types and metadata. Each round times every phase afresh; the figures are events per second.
import { parseArgs } from "node:util";
import {
  compileRuleSet,
  DEFAULT_RULES,
  DEFAULT_SCORE_CAP,
  foldScores,
  foldScoresDecay,
  foldScoresV2,
  type LeadProfile,
  type ScorableEvent,
  type ScorableEventV2,
} from "@leadscore/contracts";
import { createRandom } from "./random.ts";
import { REALISTIC_RULES, realisticEventType, realisticMetadata, realisticProfile } from "./realistic-rules.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    leads: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
    "half-life": { type: "string", default: String(30 * 86_400) },
  },
});
const HALF_LIFE = Number(args["half-life"]);
const EVENTS = Number(args.events);
const LEADS = Number(args.leads);
const ROUNDS = Number(args.rounds);
const T0 = Date.parse("2026-01-05T00:00:00Z");
const SPAN_MS = 60 * 86_400_000;

interface RawEvent {
  /** The fields a scorable event copies. */
  base: Omit<ScorableEvent, "points" | "rule_id">;
  lead: number;
  event_type: string;
  metadata: Record<string, unknown>;
}

const random = createRandom(42);
const raw: RawEvent[] = Array.from({ length: EVENTS }, (_, i) => {
  const lead = Math.floor(random() * LEADS);
  const event_type = realisticEventType(random);
  const timestamp = T0 + Math.floor(random() * SPAN_MS);
  return {
    base: { event_id: `e${i}`, lead_id: `lead-${lead}`, event_type, timestamp, received_at: timestamp },
    lead,
    event_type,
    metadata: realisticMetadata(event_type, random),
  };
});
const profiles: LeadProfile[] = Array.from({ length: LEADS }, (_, lead) => realisticProfile(lead));

/**
 * Events per second of `work` over all events, and what it returned. Timed in CPU time (user + system) of this
 * process, so other load on a shared box does not count; single-threaded work, so it is also the wall time alone.
 */
function timed<T>(work: () => T): { perSecond: number; ms: number; value: T } {
  const started = process.cpuUsage();
  const value = work();
  const used = process.cpuUsage(started);
  const ms = (used.user + used.system) / 1000;
  return { perSecond: EVENTS / (ms / 1000), ms, value };
}

function byLead<T extends { lead_id: string }>(events: T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const event of events) {
    const list = groups.get(event.lead_id);
    if (list) list.push(event);
    else groups.set(event.lead_id, [event]);
  }
  return [...groups.values()];
}

// v1 scores the realistic set's event types with the default points where it has them, 5 elsewhere.
const v1Points = new Map(DEFAULT_RULES.map((rule) => [rule.event_type, { points: rule.points, rule_id: rule._id }]));
const v1Rule = (type: string) => v1Points.get(type) ?? { points: 5, rule_id: type };

const format = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`${format(EVENTS)} events over ${format(LEADS)} leads; v2: ${REALISTIC_RULES.rules.length} rules`);

for (let round = 1; round <= ROUNDS; round++) {
  const compile = timed(() => compileRuleSet(REALISTIC_RULES));
  const rules = compile.value;
  const matchV1 = timed(() => raw.map((event): ScorableEvent => ({ ...event.base, ...v1Rule(event.event_type) })));
  const matchV2 = timed(() =>
    raw.map(
      (event): ScorableEventV2 => ({
        ...event.base,
        candidates: rules.match(event, profiles[event.lead]),
        rules_version: rules.version,
      }),
    ),
  );
  const leadsV1 = byLead(matchV1.value);
  const leadsV2 = byLead(matchV2.value);
  // Each lead's result is dropped once read, as the worker drops it once written.
  const foldV1 = timed(() => leadsV1.reduce((sum, events) => sum + foldScores(events, DEFAULT_SCORE_CAP).score, 0));
  const foldV2 = timed(() => {
    let cut = 0;
    for (const events of leadsV2) {
      for (const entry of foldScoresV2(events, DEFAULT_SCORE_CAP).history) {
        if (entry.rules.some((rule) => rule.cuts.length > 0)) cut += 1;
      }
    }
    return cut;
  });
  const until = T0 + SPAN_MS;
  const foldDecay = timed(() => {
    let crossings = 0;
    for (const events of leadsV2) {
      for (const entry of foldScoresDecay(events, DEFAULT_SCORE_CAP, { halfLifeSeconds: HALF_LIFE, until }).history) {
        if (entry.cause === "decay") crossings += 1;
      }
    }
    return crossings;
  });
  const matched = matchV2.value.reduce((sum, event) => sum + event.candidates.length, 0);
  const cut = foldV2.value;
  const bothV1 = EVENTS / ((matchV1.ms + foldV1.ms) / 1000);
  const bothV2 = EVENTS / ((matchV2.ms + foldV2.ms) / 1000);
  console.log(
    [
      `round ${round}: compile ${compile.ms.toFixed(2)} ms`,
      `  match  v1 ${format(matchV1.perSecond)}/s  v2 ${format(matchV2.perSecond)}/s` +
        `  (${(matched / EVENTS).toFixed(2)} rules matched per event)`,
      `  fold   v1 ${format(foldV1.perSecond)}/s  v2 ${format(foldV2.perSecond)}/s` +
        `  (${((100 * cut) / EVENTS).toFixed(1)}% of entries with a cut)`,
      `  decay  ${format(foldDecay.perSecond)}/s, ${(foldDecay.perSecond / foldV2.perSecond).toFixed(2)}× v2's` +
        `  (half-life ${HALF_LIFE} s, ${format(foldDecay.value)} decay entries)`,
      `  both   v1 ${format(bothV1)}/s  v2 ${format(bothV2)}/s  v2/v1 ${(bothV2 / bothV1).toFixed(2)}×`,
    ].join("\n"),
  );
}
