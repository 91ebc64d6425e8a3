// The worker's own CPU per event on its hot path, without Redis or MongoDB: each batch's leads decoded from their
// hashes as read (PLAN_FIELDS, then the tail when asked), planned (`planLead`), their fields written (`liveFields`)
// and applied to an in-memory copy of each hash as the commit script would (fields set, tail and page list appended
// to). The same events with the default rules and with the realistic set, alternately, in CPU time: the part of
// `bench:worker --rules realistic` that the rule set changes, measured without the box's load on the stores.
//
//   npm run bench:plan                                   # 100,000 events over 10,000 leads, 3 rounds
//   npm run bench:plan -- --events 1000000 --leads 100000 --rounds 1
//
// Events as bench:worker makes them (Zipf-spread leads, 2% late, the realistic set's types and metadata), in
// batches of --batch events (3,200: 32 jobs of 100). A lead the planner sends to the deep lane keeps its events
// out (counted).
import { parseArgs } from "node:util";
import {
  compileRuleSet,
  DEFAULT_RULES,
  DEFAULT_SCORE_CAP,
  DEFAULT_STAGE_THRESHOLDS,
  type QueuedEvent,
  type RuleSet,
  type ScorableEvent,
} from "@leadscore/contracts";
import {
  decodeLead,
  decodeLeadHash,
  encodeEvent,
  encodeLeadHash,
  LEAD_FIELDS,
  type LeadHash,
  type LiveLead,
  PLAN_FIELDS,
  pageDocument,
} from "@leadscore/live";
import { contentPageId } from "../worker/src/page-id.ts";
import { planLead } from "../worker/src/plan.ts";
import { liveFields } from "../worker/src/scorer.ts";
import { createRandom, zipf } from "./random.ts";
import { REALISTIC_RULES, realisticEventType, realisticMetadata } from "./realistic-rules.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "100000" },
    leads: { type: "string", default: "10000" },
    batch: { type: "string", default: "3200" },
    rounds: { type: "string", default: "3" },
    /** One rule set only (`plain` or `realistic`), e.g. to profile it alone with `node --cpu-prof`. */
    only: { type: "string" },
  },
});
const EVENTS = Number(args.events);
const LEADS = Number(args.leads);
const BATCH = Number(args.batch);
const T0 = Date.parse("2026-01-01T00:00:00Z");
const CAP = DEFAULT_SCORE_CAP;

type RawEvent = QueuedEvent;

/** bench:worker's events: Zipf-spread leads, increasing times per lead, 2% stamped before their lead's newest. */
function generate(): RawEvent[] {
  const random = createRandom(1);
  const pick = zipf(LEADS, 1, random);
  const clock = new Map<number, number>();
  return Array.from({ length: EVENTS }, (_, i) => {
    const lead = pick();
    const last = clock.get(lead) ?? T0;
    const late = random() < 0.02 && last > T0;
    const timestamp = late ? last - 1 - Math.floor(random() * 60_000) : last + 1 + Math.floor(random() * 1_000);
    if (!late) clock.set(lead, timestamp);
    const event_type = realisticEventType(random);
    return {
      event_id: `b-1-${i + 1}`,
      lead_id: `lead-${lead}`,
      event_type,
      timestamp,
      received_at: T0 + Math.floor(i / BATCH),
      metadata: realisticMetadata(event_type, random),
    };
  });
}

/** One pass over the events with a rule set: CPU µs per event, the hashes' bytes and the leads diverted. */
function run(raw: readonly RawEvent[], rules: RuleSet) {
  const compiled = compileRuleSet(rules);
  // Matching is timed apart: the scorer matches when it stores, before the lead is read.
  const matchStart = process.cpuUsage();
  const matched = raw.map((event) => compiled.match(event, null));
  const match = process.cpuUsage(matchStart);
  const scorable: ScorableEvent[] = raw.map((event, index) => {
    const candidates = matched[index] as ReturnType<typeof compiled.match>;
    let points = 0;
    for (const candidate of candidates) points += candidate.points;
    const { metadata: _, ...fields } = event;
    return {
      ...fields,
      points,
      rule_id: candidates[0]?.rule_id ?? null,
      candidates,
      rules_version: rules.version,
    };
  });
  const hashes = new Map<string, Record<string, string>>();
  const read = (id: string, fields: readonly (keyof LeadHash)[]): LeadHash => {
    const stored = hashes.get(id);
    const names = fields.map((field) => encodeLeadHash({ [field]: "x" }));
    return decodeLeadHash(
      fields,
      names.map((name) => stored?.[Object.keys(name)[0] as string] ?? null),
    );
  };
  let diverted = 0;
  let version = 0;
  const start = process.cpuUsage();
  for (let from = 0; from < scorable.length; from += BATCH) {
    const byLead = new Map<string, ScorableEvent[]>();
    for (const event of scorable.slice(from, from + BATCH)) {
      const list = byLead.get(event.lead_id);
      if (list) list.push(event);
      else byLead.set(event.lead_id, [event]);
    }
    const at = T0 + from;
    for (const [id, fresh] of byLead) {
      const planHash = read(id, PLAN_FIELDS);
      let lead: LiveLead | null = decodeLead(id, planHash, CAP, DEFAULT_STAGE_THRESHOLDS);
      const pageIds = (entries: Parameters<typeof contentPageId>[1], tally: string) =>
        contentPageId(id, entries, tally);
      let plan = planLead(lead, fresh, [], CAP, pageIds);
      if (plan.kind === "needTail") {
        lead = decodeLead(id, read(id, LEAD_FIELDS), CAP, DEFAULT_STAGE_THRESHOLDS);
        plan = planLead(lead, fresh, [], CAP, pageIds);
      }
      if (plan.kind !== "commit") {
        if (plan.kind === "divert") diverted += plan.pending.length;
        continue;
      }
      for (const page of plan.next.newPages) pageDocument(page.id, id, page.entries, new Date(at), page.startTally);
      plan.folded.map(encodeEvent);
      const written = liveFields(plan.next, lead, at, DEFAULT_STAGE_THRESHOLDS);
      const hash = hashes.get(id) ?? {};
      Object.assign(hash, encodeLeadHash(written.fields));
      const append = (name: string, items: string | undefined) => {
        if (!items) return;
        const stored = hash[name];
        hash[name] = !stored || stored === "[]" ? `[${items}]` : `${stored.slice(0, -1)},${items}]`;
      };
      append("t", written.appendTail);
      append("pg", written.appendPages);
      version += 1;
      hash.v = String((lead?.version ?? 0) + 1);
      hashes.set(id, hash);
    }
  }
  const cpu = process.cpuUsage(start);
  let bytes = 0;
  let tallyBytes = 0;
  for (const hash of hashes.values()) {
    for (const [name, value] of Object.entries(hash)) bytes += name.length + value.length;
    tallyBytes += (hash.ty?.length ?? 0) + (hash.bd?.length ?? 0);
  }
  return {
    planUs: ((cpu.user + cpu.system) / scorable.length).toFixed(1),
    matchUs: ((match.user + match.system) / scorable.length).toFixed(1),
    bytesPerLead: Math.round(bytes / hashes.size),
    tallyBytesPerLead: Math.round(tallyBytes / hashes.size),
    diverted,
    commits: version,
  };
}

/** The default rules (type → points) as the worker holds them: a rule set of v1 rules. */
const PLAIN_RULES: RuleSet = { version: 1, rules: DEFAULT_RULES.map((rule) => ({ ...rule })), groups: [] };

const raw = generate();
console.log(
  `${EVENTS.toLocaleString("en-US")} events over ${LEADS.toLocaleString("en-US")} leads, batches of ${BATCH}`,
);
for (let round = 1; round <= Number(args.rounds); round += 1) {
  if (args.only !== undefined) {
    const alone = run(raw, args.only === "plain" ? PLAIN_RULES : REALISTIC_RULES);
    console.log(`round ${round}: ${args.only} ${alone.planUs} µs/event (match ${alone.matchUs})`);
    continue;
  }
  const plain = run(raw, PLAIN_RULES);
  const realistic = run(raw, REALISTIC_RULES);
  console.log(
    `round ${round}: plain ${plain.planUs} µs/event (match ${plain.matchUs}), ` +
      `realistic ${realistic.planUs} µs/event (match ${realistic.matchUs}): ` +
      `${(Number(realistic.planUs) / Number(plain.planUs)).toFixed(2)}× CPU; bytes per lead ${plain.bytesPerLead} / ` +
      `${realistic.bytesPerLead} (tally + breakdown ${realistic.tallyBytesPerLead}); diverted ${plain.diverted} / ` +
      `${realistic.diverted}`,
  );
}
