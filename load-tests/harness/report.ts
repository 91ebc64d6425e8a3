// The run's report: a JSON document for machines, a markdown page for people, one summary line for CI logs.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EventMix } from "../src/payloads.ts";
import type { Endpoint, EventOutcome } from "../src/requests.ts";
import type { LoadProfile, Targets } from "../src/scenarios.ts";
import type { AuditResult } from "./audit.ts";
import type { LagSummary } from "./lag-probe.ts";
import { type LatencySummary, roundMs } from "./stats.ts";
import type { WorkerLagSummary } from "./worker-lag.ts";

export interface EndpointReport {
  route: string;
  requests: number;
  events: number;
  requestsPerSecond: number;
  eventsPerSecond: number;
  latencyMs: LatencySummary;
  statuses: Record<string, number>;
  failed: number;
}

export interface TimelinePoint {
  second: number;
  /** Requests the profile scheduled in this second. */
  scheduled: number;
  requests: number;
  failed: number;
  dropped: number;
  p99Ms: number;
  inFlight: number;
  queueDepth: number | null;
}

export interface ThresholdResult {
  name: string;
  target: string;
  actual: string;
  pass: boolean;
}

export interface LoadReport {
  scenario: string;
  workload: string;
  description: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  baseUrl: string;
  stack: string;
  profile: LoadProfile;
  mix: EventMix;
  targets: Targets;
  requests: {
    scheduled: number;
    sent: number;
    dropped: number;
    failed: number;
    elapsedSeconds: number;
    requestsPerSecond: number;
    eventsPerSecond: number;
    /** The busiest second that kept its schedule within the p99 target, with no error and no drop. */
    peakSustainedRequestsPerSecond: number;
    peakSustainedEventsPerSecond: number;
  };
  events: Record<EventOutcome | "sent", number>;
  latencyMs: LatencySummary;
  endpoints: Partial<Record<Endpoint, EndpointReport>>;
  errorsByStatus: Record<string, number>;
  errorSamples: string[];
  lag: LagSummary | null;
  /** Every event's lag, from the workers' histogram, when the run started them. */
  workerLag: WorkerLagSummary | null;
  lagNote: string;
  queue: {
    source: string;
    peakDepth: number | null;
    drainSeconds: number | null;
    drained: boolean;
    /** Bull jobs the edge created during the run (its job id counter), when the run started the stack. */
    jobs: number | null;
  };
  generator: { eventLoopDelayP99Ms: number; maxInFlight: number };
  thresholds: ThresholdResult[];
  audit: AuditResult;
  timeline: TimelinePoint[];
}

function ms(value: number): string {
  return Number.isFinite(value) ? `${roundMs(value)}` : "–";
}

function count(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** The one line CI keeps. */
export function summaryLine(report: LoadReport): string {
  const e = report.events;
  // Samples never scored count with their age at the end: the p99 is then only a lower bound.
  const probed =
    report.lag && report.lag.count > 0 ? `${report.lag.unseen > 0 ? ">" : ""}${ms(report.lag.p99)}ms` : "n/a";
  const w = report.workerLag;
  // Every event's figure, from the workers, when the run has it.
  const lag = w && w.count > 0 ? (w.p99Ms === null ? ">60000ms" : `${ms(w.p99Ms)}ms`) : probed;
  // History pages stored / named by the run's leads, as the audit counted them (after the sweep's wait).
  const pages = report.audit.counts?.pages;
  const ratio = pages ? ` pages=${(pages.stored / Math.max(1, pages.referenced)).toFixed(3)}x` : "";
  return (
    `load ${report.scenario}: sent=${e.sent} accepted=${e.accepted} delivered=${e.delivered} dup=${e.duplicate} ` +
    `rejected=${e.rejected} errors=${report.requests.failed} dropped=${report.requests.dropped} ` +
    `rps=${Math.round(report.requests.requestsPerSecond)} eps=${Math.round(report.requests.eventsPerSecond)} ` +
    `p99=${ms(report.latencyMs.p99)}ms lag_p99=${lag}${ratio} audit=${report.audit.status}`
  );
}

function profileText(profile: LoadProfile): string {
  if (profile.kind === "constant")
    return `${profile.rate} requests/s for ${profile.durationSeconds} s (constant arrival rate)`;
  const stages = profile.stages.map((s) => `${s.target}/s over ${s.durationSeconds} s`).join(" → ");
  return `ramping arrival rate from ${profile.startRate}/s: ${stages}`;
}

export function renderMarkdown(report: LoadReport): string {
  const lines: string[] = [];
  const r = report.requests;
  lines.push(`# Load run: ${report.scenario}`, "");
  lines.push(`\`${summaryLine(report)}\``, "");
  lines.push(
    `- workload: ${report.description}`,
    `- load: ${profileText(report.profile)}; at most ${report.generator.maxInFlight} requests in flight`,
    `- target: ${report.baseUrl} (${report.stack})`,
    `- run id: \`${report.runId}\`, ${report.startedAt} → ${report.finishedAt}`,
    `- generator event-loop delay p99: ${ms(report.generator.eventLoopDelayP99Ms)} ms (when high, the generator was the bottleneck)`,
    "",
  );
  lines.push("## Throughput and latency", "");
  lines.push(
    `${count(r.sent)} requests (${count(r.scheduled)} scheduled, ${count(r.dropped)} dropped) in ${r.elapsedSeconds.toFixed(1)} s: ` +
      `**${count(r.requestsPerSecond)} requests/s, ${count(r.eventsPerSecond)} events/s**. Busiest second that kept its ` +
      `schedule within p99 ≤ ${report.targets.p99Ms} ms, without errors or drops: ` +
      `${count(r.peakSustainedRequestsPerSecond)} requests/s (≈ ${count(r.peakSustainedEventsPerSecond)} events/s).`,
    "",
  );
  lines.push("| endpoint | requests | events | req/s | events/s | p50 ms | p90 ms | p99 ms | max ms | statuses |");
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const endpoint of Object.values(report.endpoints)) {
    if (!endpoint) continue;
    const statuses = Object.entries(endpoint.statuses)
      .map(([status, n]) => `${status}: ${n}`)
      .join(", ");
    const l = endpoint.latencyMs;
    lines.push(
      `| ${endpoint.route} | ${count(endpoint.requests)} | ${count(endpoint.events)} | ${count(endpoint.requestsPerSecond)} | ` +
        `${count(endpoint.eventsPerSecond)} | ${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | ${statuses} |`,
    );
  }
  const l = report.latencyMs;
  lines.push(
    `| **all** | ${count(r.sent)} | ${count(report.events.sent)} | ${count(r.requestsPerSecond)} | ${count(r.eventsPerSecond)} | ` +
      `${ms(l.p50)} | ${ms(l.p90)} | ${ms(l.p99)} | ${ms(l.max)} | |`,
    "",
  );
  const e = report.events;
  lines.push(
    `Events: ${count(e.sent)} sent — ${count(e.accepted)} accepted (202), ${count(e.delivered)} delivered by pixel/beacon ` +
      `(2xx, fate unknown until the audit), ${count(e.duplicate)} answered duplicate, ${count(e.rejected)} refused (400), ` +
      `${count(e.error)} without a contract answer.`,
    "",
  );
  const errors = Object.entries(report.errorsByStatus);
  lines.push("## Errors", "");
  if (errors.length === 0) lines.push("No request was answered outside the contract.", "");
  else {
    lines.push("| status | requests |", "| --- | ---: |");
    for (const [status, n] of errors) lines.push(`| ${status} | ${count(n)} |`);
    lines.push("");
    for (const sample of report.errorSamples) lines.push(`- ${sample}`);
    lines.push("");
  }
  lines.push("## Acceptance → scored lag", "");
  if (report.lag && report.lag.count > 0) {
    const g = report.lag;
    lines.push(
      `${count(g.count)} sampled events: p50 ${ms(g.p50)} ms, p90 ${ms(g.p90)} ms, **p99 ${ms(g.p99)} ms**, max ${ms(g.max)} ms` +
        `${g.unseen > 0 ? `; ${g.unseen} were never scored by the end and count with their age then, so these are lower bounds` : ""}.`,
      "",
    );
  }
  lines.push(report.lagNote, "");
  const w = report.workerLag;
  if (w && w.count > 0) {
    lines.push(
      `Every event the workers scored during the run (${count(w.count)}, their histogram of acceptance → committed, ` +
        `linear within its buckets): p50 ${w.p50Ms === null ? "> 60 s" : `${ms(w.p50Ms)} ms`}, ` +
        `**p99 ${w.p99Ms === null ? "> 60 s" : `${ms(w.p99Ms)} ms`}**; ${count(w.withinOneSecond)} within 1 s.`,
      "",
    );
  }
  const q = report.queue;
  lines.push(
    `Queue (${q.source}): peak ${q.peakDepth ?? "unknown"}; ` +
      (q.drained ? `drained ${q.drainSeconds?.toFixed(1)} s after the last request.` : "did not drain in time.") +
      (q.jobs && report.workerLag
        ? ` The edge queued the ${count(report.workerLag.count)} events the workers scored in ${count(q.jobs)} jobs ` +
          `(${(report.workerLag.count / q.jobs).toFixed(1)} a job).`
        : ""),
    "",
  );
  lines.push("## Targets", "", "| check | target | actual | |", "| --- | --- | --- | --- |");
  for (const t of report.thresholds)
    lines.push(`| ${t.name} | ${t.target} | ${t.actual} | ${t.pass ? "pass" : "**FAIL**"} |`);
  lines.push("", `Targets from ${report.targets.source}.`, "");
  lines.push(`## Correctness audit: ${report.audit.status}`, "");
  if (report.audit.note) lines.push(report.audit.note, "");
  for (const c of report.audit.checks) lines.push(`- ${c.pass ? "✔" : "✘"} ${c.name}: ${c.detail}`);
  if (report.audit.counts) {
    const c = report.audit.counts;
    lines.push(
      "",
      `Ids: ${count(c.expectedPresent)} expected scored, ${count(c.expectedAbsent)} expected absent, ${count(c.unknown)} ` +
        `of unknown fate (${count(c.unknownScored)} of them scored); ${count(c.historyEntries)} history entries over ` +
        `${count(c.leads)} leads.`,
    );
  }
  lines.push("", "## Timeline", "", "| s | scheduled | requests | failed | dropped | p99 ms | in flight | queue |");
  lines.push("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const p of report.timeline) {
    lines.push(
      `| ${p.second} | ${p.scheduled} | ${p.requests} | ${p.failed} | ${p.dropped} | ${ms(p.p99Ms)} | ${p.inFlight} | ${p.queueDepth ?? "–"} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

/**
 * Writes `<dir>/<timestamp>-<scenario>.{json,md}` (and `.stack.log` with the self-started stack's output, when
 * given) and returns the paths.
 */
export async function writeReport(
  report: LoadReport,
  dir: string,
  stackOutput?: string,
): Promise<{ json: string; markdown: string; stackLog?: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-");
  const base = join(dir, `${stamp}-${report.scenario}`);
  const json = `${base}.json`;
  const markdown = `${base}.md`;
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(report));
  if (stackOutput === undefined) return { json, markdown };
  const stackLog = `${base}.stack.log`;
  await writeFile(stackLog, stackOutput);
  return { json, markdown, stackLog };
}
