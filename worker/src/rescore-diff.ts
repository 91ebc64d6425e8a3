// What a rule set would do to the leads, lead by lead: the fold of a lead's stored events as they were scored (their
// stored candidates: the lead as it stands) beside the fold of the same events with candidates matched again under
// another rule set (the draft, with the lead's profile as stored), and the tallies a preview reports over every lead.
// Pure: the same `foldScoresV2` the worker scores with, no reads, no writes.
import {
  breakdownOf,
  type CompiledRuleSet,
  type FoldResultV2,
  foldScoresV2,
  type LeadProfile,
  type ScorableEventV2,
  STAGES,
  type Stage,
  type StageThresholds,
  stageFor,
  withCandidates,
} from "@leadscore/contracts";
import { v2Event } from "@leadscore/live";
import type { StreamedEvent } from "./lead-event-stream.ts";

/** The events of a lead with what each may earn under `rules` (matched again, with `profile`). */
export function rematched(
  events: readonly StreamedEvent[],
  rules: CompiledRuleSet,
  profile: LeadProfile | null,
): ScorableEventV2[] {
  return events.map((event) => withCandidates(event, rules.match(event, profile), rules.version));
}

export interface LeadRescore {
  leadId: string;
  before: FoldResultV2;
  after: FoldResultV2;
}

/** A lead's fold as stored and under `rules`. */
export function rescoreLead(
  leadId: string,
  events: readonly StreamedEvent[],
  rules: CompiledRuleSet,
  profile: LeadProfile | null,
  cap: number,
): LeadRescore {
  return {
    leadId,
    before: foldScoresV2(events.map(v2Event), cap),
    after: foldScoresV2(rematched(events, rules, profile), cap),
  };
}

/** How one rule's part of a lead's score changes. */
export interface RuleDifference {
  rule_id: string;
  before: number;
  after: number;
}

export interface Mover {
  lead_id: string;
  before: number;
  after: number;
  delta: number;
  stage_before: Stage;
  stage_after: Stage;
  /** Every rule whose points in the score differ, most changed first. */
  rules: RuleDifference[];
}

export interface HistogramBucket {
  from: number;
  to: number;
  count: number;
}

export interface PreviewResult {
  leads: number;
  events: number;
  /** Leads whose score changes. */
  changed: number;
  /** Leads whose stage changes: a retroactive publish with webhooks sends one `lead.stage_changed` for each. */
  stage_changes: number;
  /** Leads per stage before (rows) and after (columns). */
  matrix: Record<Stage, Record<Stage, number>>;
  histogram: { before: HistogramBucket[]; after: HistogramBucket[] };
  /** The leads that move most (by |delta|, then id), at most `MOVERS`. */
  movers: Mover[];
}

export const MOVERS = 50;
export const HISTOGRAM_WIDTH = 100;

/** The differences of each rule's points between two folds of one lead. */
export function ruleDifferences(before: FoldResultV2, after: FoldResultV2): RuleDifference[] {
  const points = new Map<string, RuleDifference>();
  for (const rule of breakdownOf(before.history).rules) {
    points.set(rule.rule_id, { rule_id: rule.rule_id, before: rule.points, after: 0 });
  }
  for (const rule of breakdownOf(after.history).rules) {
    const known = points.get(rule.rule_id);
    if (known) known.after = rule.points;
    else points.set(rule.rule_id, { rule_id: rule.rule_id, before: 0, after: rule.points });
  }
  return [...points.values()]
    .filter((rule) => rule.before !== rule.after)
    .sort((a, b) => Math.abs(b.after - b.before) - Math.abs(a.after - a.before) || (a.rule_id < b.rule_id ? -1 : 1));
}

/** Whether `a` moves more than `b` (ties: the smaller id first). */
const movesMore = (a: Mover, b: Mover) =>
  Math.abs(a.delta) > Math.abs(b.delta) || (Math.abs(a.delta) === Math.abs(b.delta) && a.lead_id < b.lead_id);

/** Adds up the leads of a preview in memory bounded by the cap and `MOVERS`, whatever the number of leads. */
export function createPreviewTally(cap: number, thresholds: StageThresholds) {
  const matrix = Object.fromEntries(
    STAGES.map((from) => [from, Object.fromEntries(STAGES.map((to) => [to, 0]))]),
  ) as PreviewResult["matrix"];
  const buckets = Math.floor(cap / HISTOGRAM_WIDTH) + 1;
  const before = new Array<number>(buckets).fill(0);
  const after = new Array<number>(buckets).fill(0);
  const movers: Mover[] = [];
  const count = (counts: number[], score: number) => {
    const bucket = Math.floor(score / HISTOGRAM_WIDTH);
    counts[bucket] = (counts[bucket] ?? 0) + 1;
  };
  let leads = 0;
  let events = 0;
  let changed = 0;
  let stageChanges = 0;

  return {
    add(lead: LeadRescore) {
      const from = stageFor(lead.before.score, thresholds);
      const to = stageFor(lead.after.score, thresholds);
      leads += 1;
      events += lead.before.history.length;
      matrix[from][to] += 1;
      count(before, lead.before.score);
      count(after, lead.after.score);
      if (from !== to) stageChanges += 1;
      const delta = lead.after.score - lead.before.score;
      if (delta === 0) return;
      changed += 1;
      const last = movers[MOVERS - 1];
      const candidate: Mover = {
        lead_id: lead.leadId,
        before: lead.before.score,
        after: lead.after.score,
        delta,
        stage_before: from,
        stage_after: to,
        rules: [],
      };
      if (movers.length === MOVERS && last !== undefined && !movesMore(candidate, last)) return;
      candidate.rules = ruleDifferences(lead.before, lead.after);
      const at = movers.findIndex((mover) => movesMore(candidate, mover));
      movers.splice(at === -1 ? movers.length : at, 0, candidate);
      if (movers.length > MOVERS) movers.pop();
    },
    result(): PreviewResult {
      const histogram = (counts: number[]) =>
        counts.map((count, i) => ({
          from: i * HISTOGRAM_WIDTH,
          to: Math.min((i + 1) * HISTOGRAM_WIDTH - 1, cap),
          count,
        }));
      return {
        leads,
        events,
        changed,
        stage_changes: stageChanges,
        matrix,
        histogram: { before: histogram(before), after: histogram(after) },
        movers: [...movers],
      };
    },
  };
}
