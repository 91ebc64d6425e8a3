// Restart and rebuild benchmark: what the faults of the live state cost at size. On a stack of its own — a Redis
// started here (append-only file, `appendfsync everysec`, on --port), a FerretDB of its own, the Deno edge and one
// worker process (tests/reliability/stack.ts) — it scores --events events over --leads leads through the real worker
// (jobs put straight into the paused queue, then drained, as bench:worker does), then:
//   (a) Redis stopped cleanly (SIGTERM) and started again, under --rate events/s sent to the edge;
//   (b) Redis SIGKILLed and started again on its append-only file, under the same rate;
//   (c) a full rebuild: `npm run rebuild` beside the previous generation, then every live key deleted (the worker
//       rebuilds with nothing to serve meanwhile), while a reader polls the leaderboard and a list.
// For (a) and (b), from Redis's ready line (its log): the worker's catch-up (its log) and an event sent right after
// the restart, when the edge took it and when the worker committed it (the lead's `updatedAt`) — clocks of the
// processes themselves, since this one also drives the load; as seen from here, the first job the worker completes
// and the generation current again; rebuilds (must be none); and the audit of every acknowledged event (the fault
// suite's client and audit: nothing lost but, with everysec, the last second; nothing folded twice; every lead the
// fold of its events).
// For (c): the rebuild's time and switch, the rebuilding process's peak RSS, and the reader's answers, empty answers
// and failures. After each, the history pages stored / named, at once and once the workers' sweep has run.
//
//   npm run bench:restart                                  # 1,000,000 events over 100,000 leads
//   npm run bench:restart -- --events 20000 --leads 2000   # small
//   npm run bench:restart -- --rate 2000 --seconds 30      # the offered load of (a) and (b), and how long it runs
//   npm run bench:restart -- --only clean,kill             # some of the sections: clean, kill, rebuild
//
// One audit covers (a) and (b), after both (at a million events each audit reads the whole state for minutes): an id
// acknowledged in (a) or before must be folded, one of (b) may be lost only if it was never stored (everysec's last
// second); another follows the worker's rebuild in (c). Each section's time and the whole run's are printed.
//
// Everything it started is stopped and its folder removed at the end (or on Ctrl-C).

import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { DEFAULT_SCORE_CAP, DEFAULT_STAGE_THRESHOLDS } from "@leadscore/contracts";
import { createLiveReader, leadHashField, liveKeys } from "@leadscore/live";
import { awaitPageSweep } from "@leadscore/load-tests/page-sweep";
import { type EventsJob, RECONNECT } from "@leadscore/runtime";
import { REBUILD_NODE_FLAGS } from "@leadscore/worker/node-flags";
import type Queue from "bull";
import { Redis } from "ioredis";
import { uniqueName } from "../test-support/index.ts";
import { pageCounts, pageCountsLine } from "../test-support/page-counts.ts";
import {
  loggedPort,
  NODE_TS,
  peakResidentBytes,
  type RunningProcess,
  resetPeakResident,
  residentBytes,
  startProcess,
} from "../test-support/processes.ts";
import { auditScores } from "../tests/reliability/audit.ts";
import { createLoadClient } from "../tests/reliability/client.ts";
import { drained, queueState } from "../tests/reliability/queue-state.ts";
import {
  catchUpAfterReadyMs,
  catchUpsLogged,
  deleteLiveKeys,
  rebuildsLogged,
  redisReadyAt,
} from "../tests/reliability/restart-log.ts";
import { type FaultStack, startFaultStack } from "../tests/reliability/stack.ts";
import { buildWorkload } from "../tests/reliability/workload.ts";
import { addJobs, createEvents, fmt, labelled, metricsOf, waitScoredByMetrics } from "./queue-load.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    leads: { type: "string", default: "100000" },
    /** Events per second sent to the edge during (a) and (b). */
    rate: { type: "string", default: "2000" },
    /** How long that load runs in each of (a) and (b); the fault comes at 40% of it. */
    seconds: { type: "string", default: "20" },
    /** The private Redis's port. */
    port: { type: "string", default: "7701" },
    /** How long Redis stays down in (a) and (b). */
    "down-ms": { type: "string", default: "500" },
    job: { type: "string", default: "100" },
    zipf: { type: "string", default: "1" },
    late: { type: "string", default: "0.02" },
    /** The sections to run, of clean, kill and rebuild (both rebuilds), comma-separated; all unless given. */
    only: { type: "string", default: "clean,kill,rebuild" },
  },
});
const SECTIONS = new Set(args.only.split(",").map((each) => each.trim()));
for (const section of SECTIONS) {
  if (!["clean", "kill", "rebuild"].includes(section)) throw new Error(`--only: no section ${section}`);
}

const EVENTS = Number(args.events);
const LEADS = Number(args.leads);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const DOWN_MS = Number(args["down-ms"]);
const DRAIN_MS = 10 * 60_000;
const POLL_MS = 100;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number | undefined | null) =>
  ms === undefined || ms === null ? "–" : `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;
const load = () =>
  loadavg()
    .map((each) => each.toFixed(1))
    .join(" ");

/** One line per phase for the summary at the end. */
const summary: string[] = [];
let stack: FaultStack | undefined;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    console.error(`\n${signal}: stopping the stack…`);
    await stack?.stop();
    process.exit(130);
  });
}

/** Every id the audit must find folded exactly once: the seeded events, then each phase's acknowledged ones. */
const acknowledged = new Set<string>();

interface Loaded {
  worker: RunningProcess;
  port: number;
  runId: string;
  leadPrefix: string;
}

/** Scores EVENTS events over LEADS leads through one worker process: seeded into the paused queue, then drained. */
async function loadState(running: FaultStack): Promise<Loaded> {
  const runId = uniqueName("rs");
  const leadPrefix = `${runId}-lead-`;
  const next = createEvents({ leads: LEADS, seed: 1, zipf: Number(args.zipf), late: Number(args.late), leadPrefix });
  const queue = running.queue as Queue.Queue<EventsJob>;
  await queue.pause();
  let jobs = 0;
  const seededAt = Date.now();
  for (let from = 0; from < EVENTS; from += 20_000) {
    const chunk = Array.from({ length: Math.min(20_000, EVENTS - from) }, () => next(seededAt));
    for (const event of chunk) acknowledged.add(event.event_id);
    jobs += await addJobs([queue], chunk, Number(args.job));
  }
  console.log(`  seeded ${fmt(jobs)} jobs of ${args.job}; starting one worker process…`);
  const worker = await running.startWorker();
  const port = await loggedPort(worker, "worker metrics listening");
  const started = performance.now();
  await queue.resume();
  const finished = await waitScoredByMetrics({
    redis: running.redis,
    partitions: [running.prefix],
    queues: [queue],
    worker,
    port,
    jobs,
  });
  const ms = finished - started;
  console.log(
    `  drained in ${seconds(ms)}: ${fmt(EVENTS / (ms / 1000))} events/s; worker RSS ${mb(residentBytes(worker.child.pid))}`,
  );
  summary.push(
    `load: ${fmt(EVENTS)} events / ${fmt(LEADS)} leads drained in ${seconds(ms)} (${fmt(EVENTS / (ms / 1000))} events/s)`,
  );
  return { worker, port, runId, leadPrefix };
}

/** Pages stored / named at once, then once the workers' sweep has emptied the retired set. */
async function pagesAfter(running: FaultStack, what: string): Promise<string> {
  const atOnce = await pageCounts(running.redis, running.db, running.prefix);
  console.log(`  history pages after ${what}, at once: ${pageCountsLine(atOnce)}`);
  const sweep = await awaitPageSweep(running.db, running.redis, running.prefix);
  const swept = await pageCounts(running.redis, running.db, running.prefix);
  const when = sweep.sweptAfterMs === null ? "not swept within the wait" : `swept ${seconds(sweep.sweptAfterMs)} later`;
  console.log(`  history pages once retired ones are ${when}: ${pageCountsLine(swept)}`);
  const ratio = (pages: { stored: number; named: number }) => (pages.stored / Math.max(1, pages.named)).toFixed(3);
  return `pages ${ratio(atOnce)}× at once, ${ratio(swept)}× once swept`;
}

/**
 * The audit of every acknowledged id; returns its line, and forgets ids lost for good (everysec's last second). Only
 * ids of `mayLose` may be lost, and only if never stored.
 */
async function audit(running: FaultStack, mayLose: ReadonlySet<string> = new Set()): Promise<string> {
  const started = performance.now();
  const report = await auditScores(
    { db: running.db, redis: running.redis, redisPrefix: running.prefix },
    acknowledged,
    DEFAULT_SCORE_CAP,
  );
  const missingNotLost = report.missingEvents.filter((id) => !report.lost.includes(id));
  const exact =
    report.duplicated.length === 0 &&
    report.phantoms.length === 0 &&
    report.problems.length === 0 &&
    report.lost.length === report.missingEvents.length &&
    report.lost.every((id) => mayLose.has(id));
  const line =
    `audit ${exact ? "exact" : "NOT EXACT"}: ${fmt(report.scored)} folded over ${fmt(report.leads)} leads; ` +
    `acknowledged but lost ${report.lost.length} (${report.missingEvents.length} not stored, ` +
    `${report.lost.length - report.missingEvents.length + missingNotLost.length} stored but not folded), ` +
    `folded twice ${report.duplicated.length}, never acknowledged ${report.phantoms.length}, problems ${report.problems.length}`;
  console.log(`  ${line} (${seconds(performance.now() - started)})`);
  for (const problem of report.problems.slice(0, 5)) console.log(`    ${problem}`);
  for (const id of report.lost) acknowledged.delete(id);
  return line;
}

/**
 * An event sent right after Redis is back (retried until the edge takes it): when the edge took it and when the worker
 * committed it (its lead's `updatedAt`, the worker's clock), both from Redis's ready line (its log).
 */
async function probeScored(running: FaultStack, probe: Redis, id: string) {
  const lead = `${id}-lead`;
  const started = Date.now();
  for (;;) {
    const answer = await fetch(`${running.edgeUrl}/api/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${running.writeKey}`, "content-type": "application/json" },
      body: JSON.stringify({ event_id: id, lead_id: lead, event_type: "page_view" }),
    }).catch(() => null);
    if (answer?.status === 202 || answer?.status === 200) break;
    if (Date.now() - started > 60_000) return null;
    await sleep(20);
  }
  const acceptedAt = Date.now();
  acknowledged.add(id);
  const key = liveKeys(running.prefix).lead(lead);
  while (Date.now() - started < 120_000) {
    const committedAt = await probe.hget(key, leadHashField("updatedAt")).catch(() => null);
    const readyAt = redisReadyAt(running.output());
    if (committedAt !== null && readyAt !== undefined) {
      return { acceptedMs: acceptedAt - readyAt, committedMs: Number(committedAt) - readyAt };
    }
    await sleep(20);
  }
  return null;
}

async function jobsCompleted(port: number): Promise<number> {
  return labelled(await metricsOf(port), "leadscore_worker_jobs_total", "outcome", "completed");
}

/** (a) and (b): the offered load through the edge, the fault at 40% of it, the drain and the audit. */
async function restartUnderLoad(
  running: FaultStack,
  loaded: Loaded,
  label: string,
  fault: () => Promise<void>,
): Promise<{ acknowledged: Set<string>; line: string }> {
  console.log(`\n${label}: ${fmt(RATE)} events/s for ${SECONDS} s to the edge, the fault at 40% (load ${load()})`);
  const tag = uniqueName("f");
  const sends = buildWorkload({
    runId: `${loaded.runId}-${tag}`,
    leadPrefix: loaded.leadPrefix,
    leads: LEADS,
    events: RATE * SECONDS,
    rate: RATE,
    seed: 11,
    batchSize: 8,
  });
  const client = createLoadClient({ baseUrl: () => running.edgeUrl, writeKey: running.writeKey });
  const keys = liveKeys(running.prefix);
  const measured: {
    probe?: { acceptedMs: number; committedMs: number } | null;
    currentMs?: number;
    jobDoneMs?: number;
    waiting?: number;
  } = {};
  let [before, rebuildsBefore, catchUpsBefore] = [null as string | null, 0, 0];
  const chaos = (async () => {
    await sleep(0.4 * SECONDS * 1000);
    before = await running.redis.get(keys.gen);
    [rebuildsBefore, catchUpsBefore] = [rebuildsLogged(running.output()), catchUpsLogged(running.output())];
    await fault();
    // Redis answers again (the stack waited for its ready line); looked at on a connection of its own, opened now.
    const backAt = Date.now();
    const probe = new Redis(running.redisUrl, RECONNECT);
    probe.on("error", () => undefined);
    try {
      // The first job the worker completes once Redis is back: scoring resumed (a commit needs Redis).
      const completedAtBack = await jobsCompleted(loaded.port);
      measured.waiting = (await queueState(probe, running.prefix).catch(() => null))?.waiting;
      const jobDone = (async () => {
        while (Date.now() - backAt < 120_000) {
          if ((await jobsCompleted(loaded.port)) > completedAtBack) {
            measured.jobDoneMs = Date.now() - backAt;
            return;
          }
          await sleep(20);
        }
      })();
      const current = (async () => {
        while (Date.now() - backAt < 120_000) {
          const generation = await probe.get(keys.gen).catch(() => null);
          if (generation !== null && generation !== before && !generation.startsWith("rebuilding:")) {
            measured.currentMs = Date.now() - backAt;
            return;
          }
          await sleep(20);
        }
      })();
      measured.probe = await probeScored(running, probe, `${loaded.runId}-${tag}-probe`);
      await Promise.all([current, jobDone]);
    } finally {
      probe.disconnect();
    }
  })();
  await Promise.all([client.run(sends), chaos]);
  const phase = new Set(client.acknowledged());
  for (const id of phase) acknowledged.add(id);
  const figures = client.figures();
  console.log(
    `  acknowledged ${fmt(figures.acknowledged)}; 503s retried ${figures.unavailable}, unanswered retried ` +
      `${figures.connectionErrors}; unexpected answers ${figures.unexpected.length}`,
  );
  await drained(running.redis, running.prefix, DRAIN_MS);
  const output = running.output();
  const caughtUpMs = catchUpAfterReadyMs(output);
  const rebuilds = rebuildsLogged(output) - rebuildsBefore;
  const catchUps = catchUpsLogged(output) - catchUpsBefore;
  const caughtUp = [...output.matchAll(/\{[^\n]*live state caught up after a Redis restart[^\n]*/g)].at(-1)?.[0];
  console.log(`  catch-up logged: ${caughtUp ?? "none"}`);
  const timing =
    `from Redis ready (its log): caught up ${seconds(caughtUpMs)} (the worker's log), an event accepted ` +
    `${seconds(measured.probe?.acceptedMs)} then committed ${seconds(measured.probe?.committedMs)} (the worker's clock; ` +
    `${fmt(measured.waiting ?? 0)} jobs queued at the restart); seen from here, where the load is driven: a job ` +
    `completed ${seconds(measured.jobDoneMs)}, generation current ${seconds(measured.currentMs)}; catch-ups ` +
    `${catchUps}, rebuilds ${rebuilds}`;
  console.log(`  ${timing}`);
  const pages = await pagesAfter(running, label);
  return { acknowledged: phase, line: `${label}: ${timing}; ${pages}` };
}

interface ReadProbe {
  answered: number;
  empty: number;
  failed: number;
  stop(): Promise<void>;
}

/** The leaderboard's top 10 and the first page of the list by score, read in turn every POLL_MS. */
function pollReads(running: FaultStack): ReadProbe {
  const redis = new Redis(running.redisUrl, RECONNECT);
  redis.on("error", () => undefined);
  const reader = createLiveReader({
    redis,
    redisPrefix: running.prefix,
    cap: DEFAULT_SCORE_CAP,
    thresholds: DEFAULT_STAGE_THRESHOLDS,
  });
  const probe = { answered: 0, empty: 0, failed: 0 };
  let stopped = false;
  const loop = (async () => {
    for (let turn = 0; !stopped; turn += 1) {
      try {
        const leads =
          turn % 2 === 0 ? await reader.leaderboard(10) : (await reader.list({ sort: "-score", limit: 20 })).leads;
        if (leads.length > 0) probe.answered += 1;
        else probe.empty += 1;
      } catch {
        probe.failed += 1;
      }
      await sleep(POLL_MS);
    }
  })();
  return Object.assign(probe, {
    async stop() {
      stopped = true;
      await loop;
      redis.disconnect();
    },
  });
}

const readsLine = (reads: ReadProbe) =>
  `reads: ${reads.answered} answered with leads, ${reads.empty} empty, ${reads.failed} failed`;

/** (c) first: `npm run rebuild` beside the running worker, the previous generation serving reads meanwhile. */
async function rebuildBeside(running: FaultStack) {
  console.log(`\n(c) npm run rebuild beside the previous generation (load ${load()})`);
  const reads = pollReads(running);
  const cli = startProcess(NODE_TS[0], [...REBUILD_NODE_FLAGS, ...NODE_TS.slice(1), "worker/src/rebuild-cli.ts"], {
    NODE_ENV: "test",
    REDIS_URL: running.redisUrl,
    MONGO_URL: running.mongoUrl,
    REDIS_PREFIX: running.prefix,
    LOG_LEVEL: "info",
  });
  let peak = 0;
  const sampler = setInterval(() => {
    const now = peakResidentBytes(cli.child.pid);
    if (now > peak) peak = now;
  }, POLL_MS);
  const started = performance.now();
  const code = await cli.exited(60 * 60_000);
  const ms = performance.now() - started;
  clearInterval(sampler);
  await reads.stop();
  if (code !== 0) throw new Error(`npm run rebuild failed (${code}):\n${cli.output()}`);
  const rebuilt = logged(cli.output());
  const line =
    `rebuilt ${fmt(rebuilt.leads)} leads from ${fmt(rebuilt.events)} events in ${seconds(rebuilt.ms)} ` +
    `(${seconds(ms)} with the process's start), switch ${rebuilt.switchMs} ms; peak RSS ${mb(peak)} (sampled every ` +
    `${POLL_MS} ms); ${readsLine(reads)}`;
  console.log(`  ${line}`);
  const pages = await pagesAfter(running, "the rebuild");
  summary.push(`(c) npm run rebuild, previous generation kept: ${line}; ${pages}`);
}

/** The figures of the last "live state rebuilt" line in a process's output. */
function logged(output: string) {
  const line = [...output.matchAll(/\{[^\n]*"live state rebuilt"[^\n]*\}/g)].at(-1)?.[0];
  if (!line) throw new Error(`no rebuild logged:\n${output.slice(-2000)}`);
  return JSON.parse(line) as { leads: number; events: number; ms: number; switchMs: number };
}

/** The peak RSS (MB) of the child process the worker's rebuild ran in (worker/src/rebuild-child.ts), as it logs it. */
async function rebuildProcessPeak(output: () => string): Promise<number | null> {
  for (let waited = 0; waited < 5_000; waited += POLL_MS) {
    const line = [...output().matchAll(/\{[^\n]*"rebuild process ended"[^\n]*\}/g)].at(-1)?.[0];
    if (line) return (JSON.parse(line) as { maxRssMb: number }).maxRssMb;
    await sleep(POLL_MS);
  }
  return null;
}

/** (c) then: every live key deleted; the worker finds its generation gone and rebuilds, nothing to serve meanwhile. */
async function rebuildAfterDelete(running: FaultStack, loaded: Loaded) {
  console.log(`\n(c) every live key deleted: the worker rebuilds (load ${load()})`);
  const pid = loaded.worker.child.pid;
  const rssBefore = residentBytes(pid);
  const reset = resetPeakResident(pid);
  let sampled = rssBefore;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, residentBytes(pid));
  }, POLL_MS);
  const rebuildsBefore = rebuildsLogged(running.output());
  const reads = pollReads(running);
  const started = performance.now();
  const deleted = await deleteLiveKeys(running.redis, running.prefix);
  while (rebuildsLogged(running.output()) === rebuildsBefore) {
    if (performance.now() - started > 60 * 60_000) throw new Error("no rebuild within an hour");
    await sleep(POLL_MS);
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  await reads.stop();
  const peak = reset ? peakResidentBytes(pid) : sampled;
  const rebuilt = logged(running.output());
  const childPeak = await rebuildProcessPeak(() => running.output());
  const line =
    `${childPeak === null ? "" : `rebuild process peak RSS ${childPeak} MB; `}${fmt(deleted)} keys deleted; rebuilt ${fmt(rebuilt.leads)} leads from ${fmt(rebuilt.events)} events in ` +
    `${seconds(rebuilt.ms)} (${seconds(ms)} from the delete), switch ${rebuilt.switchMs} ms; worker RSS ` +
    `${mb(rssBefore)} before, peak ${mb(peak)} during (${reset ? "VmHWM reset before" : `sampled every ${POLL_MS} ms`}); ` +
    readsLine(reads);
  console.log(`  ${line}`);
  const audited = await audit(running);
  const pages = await pagesAfter(running, "the rebuild");
  summary.push(`(c) live keys deleted, worker rebuilds: ${line}; ${audited.split(":")[0]}; ${pages}`);
}

async function main() {
  console.log(
    `restart bench: ${fmt(EVENTS)} events over ${fmt(LEADS)} leads; faults under ${fmt(RATE)} events/s for ` +
      `${SECONDS} s; Redis on ${args.port}, down ${DOWN_MS} ms; load average ${load()}`,
  );
  stack = await startFaultStack({
    redisFsync: "everysec",
    redisPort: Number(args.port),
    workerEnv: { METRICS_PORT: "0" },
  });
  const running = stack;
  const began = performance.now();
  const timed = async (section: string, run: () => Promise<void>) => {
    const started = performance.now();
    await run();
    const line = `${section} took ${seconds(performance.now() - started)}`;
    console.log(`  ${line} (${seconds(performance.now() - began)} since the start)`);
    sections.push(line);
  };
  const sections: string[] = [];
  let loaded: Loaded | undefined;
  await timed("the load", async () => {
    loaded = await loadState(running);
    summary[0] += `; ${await pagesAfter(running, "the load")}`;
  });
  const state = loaded as Loaded;
  await running.startEdge();
  const restarts: string[] = [];
  let mayLose = new Set<string>();
  if (SECTIONS.has("clean")) {
    await timed("(a)", async () => {
      const clean = await restartUnderLoad(running, state, "(a) Redis stopped cleanly and started again", () =>
        running.restartRedis(DOWN_MS),
      );
      restarts.push(clean.line);
    });
  }
  if (SECTIONS.has("kill")) {
    await timed("(b)", async () => {
      const killed = await restartUnderLoad(
        running,
        state,
        "(b) Redis SIGKILLed (appendfsync everysec) and started again",
        () => running.crashRedis(DOWN_MS),
      );
      restarts.push(killed.line);
      mayLose = killed.acknowledged;
    });
  }
  if (restarts.length > 0) {
    await timed("the restarts' audit", async () => {
      console.log(`\nthe restarts' audit: every id acknowledged so far; lost allowed only in (b), if never stored`);
      const audited = await audit(running, mayLose);
      for (const line of restarts) summary.push(`${line}; ${audited.split(":")[0]} (a and b together)`);
    });
  }
  if (SECTIONS.has("rebuild")) {
    await timed("(c) npm run rebuild", () => rebuildBeside(running));
    await timed("(c) live keys deleted", () => rebuildAfterDelete(running, state));
  }
  summary.push(`times: ${sections.join("; ")}; ${seconds(performance.now() - began)} in all`);
  console.log(`\nsummary (load average ${load()}; worker jobs completed ${fmt(await jobsCompleted(state.port))})`);
  for (const line of summary) console.log(`  ${line}`);
}

try {
  await main();
  await stack?.stop();
  process.exit(0);
} catch (error) {
  console.error(error);
  if (stack) console.error(`the stack's output ends:\n${stack.output().slice(-6000)}`);
  await stack?.stop();
  process.exit(1);
}
