// Previews of a draft rule set, run in a worker: every lead's scored events folded as stored and with their
// candidates matched again under the draft (with the lead's profile as the live state holds it), the differences
// added up (`createPreviewTally`). Nothing live is written: only the preview's record, with its progress about once
// a second and its result at the end.
//
// Where the events come from: when no rule of the draft reads `metadata.*`, from the live state (each lead's tail,
// and its settled pages by `_id`: `streamLiveLeads`), which holds every scored event with what it may earn, so the
// `events` collection — a millisecond a document on the embedded store — is never read. A draft that reads
// metadata needs each event's stored metadata: every stored event is then read once and grouped by lead
// (`streamLeadEvents`). Both give the same leads and events once the queue is drained; while events still wait in
// the queue or the deep lane, the first previews what is scored, the second what is stored.
//
// With several lead partitions, a preview reads every partition (`partitions`, in partition order): each one's leads
// from its own live state, their counts summed into one progress, each lead's profile read in its own partition.
//
// A worker looks for a queued preview every `pollMs`; at most one runs per deployment (the re-score lock, see
// runtime/src/previews.ts). A cancel is read with each progress write and stops the read and the folds.
import { compileRuleSet, type LeadProfile, type RuleSet, type StageThresholds } from "@leadscore/contracts";
import { decodeLeadHash, type LeadHashField, type LiveKeys, leadHashFields } from "@leadscore/live";
import {
  LockLostError,
  type Logger,
  leadPartition,
  type PreviewFields,
  previewKey,
  type RuleSetBody,
  type TakenPreview,
  takePreview,
  updatePreview,
} from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { type LeadEvents, streamLeadEvents } from "./lead-event-stream.ts";
import { liveTotals, streamPartitionLeads } from "./live-lead-stream.ts";
import { createPoller } from "./poller.ts";
import { createPreviewTally, type PreviewResult, rescoreLead } from "./rescore-diff.ts";
import { readsLead, readsMetadata } from "./rules-cache.ts";

export interface PreviewOptions {
  db: Db;
  redis: Redis;
  prefix: string;
  keys: LiveKeys;
  /**
   * Every lead partition's keys, in partition order (a lead's is `leadPartition(id, partitions.length)`); the
   * preview reads them all. Default: `keys` alone.
   */
  partitions?: readonly LiveKeys[];
  cap: number;
  thresholds: StageThresholds;
  log: Logger;
  now?: () => number;
  /** Where the event stream spills its buckets (default: the system's temporary folder). */
  tmpDir?: string;
  /** How often progress is written and a cancel looked for. */
  progressMs?: number;
}

const PROFILE_FIELDS: readonly LeadHashField[] = ["name", "email", "company"];
/** Leads whose profiles are read in one pipeline, when the draft reads `lead.*`. */
const PROFILE_CHUNK = 500;

/** The profiles of `leadIds` as their live hashes hold them (one pipelined HMGET). */
async function readProfiles(redis: Redis, keys: LiveKeys, leadIds: readonly string[]) {
  const pipeline = redis.pipeline();
  for (const id of leadIds) pipeline.hmget(keys.lead(id), ...leadHashFields(PROFILE_FIELDS));
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, values]): LeadProfile => {
    if (error) throw error;
    const { name, email, company } = decodeLeadHash(PROFILE_FIELDS, values as (string | null)[]);
    return { name: name || null, email: email || null, company: company || null };
  });
}

/** The profiles of `leadIds`, each read in its own partition (one pipeline per partition), in `leadIds`' order. */
async function readPartitionProfiles(redis: Redis, partitions: readonly LiveKeys[], leadIds: readonly string[]) {
  const profiles = new Array<LeadProfile>(leadIds.length);
  await Promise.all(
    partitions.map(async (keys, partition) => {
      const at = leadIds.flatMap((id, i) => (leadPartition(id, partitions.length) === partition ? [i] : []));
      if (at.length === 0) return;
      const read = await readProfiles(
        redis,
        keys,
        at.map((i) => leadIds[i] as string),
      );
      at.forEach((i, n) => {
        profiles[i] = read[n] as LeadProfile;
      });
    }),
  );
  return profiles;
}

/** Preview cancelled by its `DELETE`. */
class PreviewCancelled extends Error {
  override name = "PreviewCancelled";
}

/**
 * Runs one preview to its result. `report` is called with the progress about every `progressMs` and answers whether
 * the preview was cancelled meanwhile.
 */
export async function runPreview(
  options: PreviewOptions,
  draft: RuleSetBody,
  signal: AbortSignal,
  report: (fields: PreviewFields) => Promise<boolean>,
): Promise<PreviewResult> {
  const now = options.now ?? Date.now;
  const set: RuleSet = { version: 0, rules: draft.rules, groups: draft.groups };
  const rules = compileRuleSet(set);
  const tally = createPreviewTally(options.cap, options.thresholds);
  const cancelled = new AbortController();
  const stop = AbortSignal.any([signal, cancelled.signal]);
  const progress = { phase: "reading", events_total: 0, events_read: 0, events_done: 0, leads_done: 0 };
  let last = now();
  let reporting: Promise<void> | undefined;
  const tick = (force = false) => {
    if (reporting !== undefined || (!force && now() - last < (options.progressMs ?? 1_000))) return;
    last = now();
    reporting = report({ ...progress, updated_at: last })
      .then((cancel) => {
        if (cancel) cancelled.abort(new PreviewCancelled("the preview was cancelled"));
      })
      .catch((error: Error) => options.log.warn("preview progress not written", { error: error.message }))
      .finally(() => {
        reporting = undefined;
      });
  };
  const fold = (lead: LeadEvents, profile: LeadProfile | null) => {
    tally.add(rescoreLead(lead.leadId, lead.events, rules, profile, options.cap));
    progress.events_done += lead.events.length;
    progress.leads_done += 1;
  };

  if (readsMetadata(set)) await foldStoredEvents(options, stop, readsLead(set), progress, tick, fold);
  else {
    const stream = streamPartitionLeads(options.redis, options.db, partitionsOf(options), {
      cap: options.cap,
      thresholds: options.thresholds,
      signal: stop,
      onTotal: ({ events }) => {
        progress.events_total = events;
        progress.phase = "folding";
        tick(true);
      },
    });
    for await (const lead of stream) {
      progress.events_read += lead.events.length;
      fold(lead, lead.profile);
      tick();
    }
  }
  await reporting;
  stop.throwIfAborted();
  return tally.result();
}

const partitionsOf = (options: PreviewOptions) => options.partitions ?? [options.keys];

type Progress = { phase: string; events_total: number; events_read: number; events_done: number; leads_done: number };

/**
 * The path a draft that reads metadata takes: every stored event read once (`streamLeadEvents`), then folded lead by
 * lead. Its total until the read ends is the live state's count: counting the collection would scan it once more.
 */
async function foldStoredEvents(
  options: PreviewOptions,
  stop: AbortSignal,
  usesLead: boolean,
  progress: Progress,
  tick: (force?: boolean) => void,
  fold: (lead: LeadEvents, profile: LeadProfile | null) => void,
) {
  const partitions = partitionsOf(options);
  const totals = await Promise.all(partitions.map((keys) => liveTotals(options.redis, keys, stop)));
  progress.events_total = totals.reduce((sum, each) => sum + each.events, 0);
  let pending: LeadEvents[] = [];
  const flush = async () => {
    const profiles = usesLead
      ? await readPartitionProfiles(
          options.redis,
          partitions,
          pending.map((lead) => lead.leadId),
        )
      : [];
    pending.forEach((lead, i) => {
      fold(lead, profiles[i] ?? null);
    });
    pending = [];
    tick();
  };
  const stream = streamLeadEvents(options.db, {
    metadata: true,
    signal: stop,
    tmpDir: options.tmpDir,
    onRead: (events, done) => {
      progress.events_read = events;
      if (done) {
        progress.phase = "folding";
        // The estimate was only that: the read counted them.
        progress.events_total = events;
      }
      tick(done);
    },
  });
  for await (const lead of stream) {
    pending.push(lead);
    if (pending.length >= PROFILE_CHUNK) await flush();
  }
  await flush();
}

/** The preview a worker runs, its lock kept alive meanwhile; records the outcome. */
async function runTaken(options: PreviewOptions, { record, lock }: TakenPreview, shutdown: AbortSignal) {
  const { redis, prefix, log } = options;
  const now = options.now ?? Date.now;
  const id = record.id;
  await updatePreview(redis, prefix, id, { state: "running", started_at: now(), updated_at: now() });
  const report = async (fields: PreviewFields) => {
    await updatePreview(redis, prefix, id, fields);
    return (await redis.hget(previewKey(prefix, id), "cancel")) === "1";
  };
  try {
    const draft = JSON.parse(record.draft) as RuleSetBody;
    const result = await lock.keepAlive((signal) =>
      runPreview(options, draft, AbortSignal.any([signal, shutdown]), report),
    );
    await updatePreview(redis, prefix, id, {
      state: "done",
      phase: "folding",
      result: JSON.stringify(result),
      finished_at: now(),
      updated_at: now(),
      events_total: result.events,
      events_read: result.events,
      events_done: result.events,
      leads_done: result.leads,
    });
    log.info("preview done", { id, leads: result.leads, changed: result.changed });
  } catch (error) {
    const reason = error instanceof Error ? error : new Error(String(error));
    const state = reason instanceof PreviewCancelled ? "cancelled" : "failed";
    await updatePreview(redis, prefix, id, { state, error: reason.message, finished_at: now(), updated_at: now() });
    if (state === "failed") {
      const level = reason instanceof LockLostError ? "warn" : "error";
      log[level]("preview failed", { id, error: reason.message });
    }
  } finally {
    await lock.release().catch(() => false);
  }
}

export interface PreviewRunner {
  start(): void;
  /** Stops looking for previews; a running one is cancelled (its lock released) before this resolves. */
  stop(): Promise<void>;
}

export function createPreviewRunner(options: PreviewOptions & { pollMs?: number }): PreviewRunner {
  const poll = async (shutdown: AbortSignal) => {
    const taken = await takePreview(options.redis, options.prefix, options.now ?? Date.now);
    if (taken === null) return;
    await runTaken(options, taken, shutdown);
  };
  return createPoller(poll, { pollMs: options.pollMs ?? 1_000, log: options.log, what: "preview" });
}
