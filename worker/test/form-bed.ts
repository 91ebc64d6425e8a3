// What the worker's small scorer-and-deep-lane tests share beside their live bed: one rule (a form, 40 points), events
// of it a minute apart, and the writer options of a bed's (or one of its partitions') live state.
import type { QueuedEvent, RuleSet } from "@leadscore/contracts";
import { type LiveKeys, liveKeys } from "@leadscore/live";
import { partitionPrefixes, silentLogger } from "@leadscore/runtime";
import { afterAll, beforeAll } from "vitest";
import { createTestRedis } from "../../test-support/index.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import type { LiveWriterOptions } from "../src/scorer.ts";
import type { LiveBed } from "./live-bed.ts";

export const T0 = Date.parse("2026-01-01T00:00:00Z");
export const CAP = 200;
export const THRESHOLDS = [100, 300, 600] as const;
export const FORM_RULES = ruleMatcher({
  version: 1,
  groups: [],
  rules: [{ _id: "form", label: "Form", event_type: "form", points: 40, active: true }],
} satisfies RuleSet);

/** A form submission of `leadId` at T0 plus `minute` minutes. */
export const formEvent = (leadId: string, eventId: string, minute: number): QueuedEvent => ({
  event_id: eventId,
  lead_id: leadId,
  event_type: "form",
  timestamp: T0 + minute * 60_000,
  received_at: T0 + 1_000_000 + minute,
  metadata: {},
});

/** The writer options of `keys` (the bed's own when not given) under `generation`. */
export const writerOf =
  (bed: LiveBed, generation: string) =>
  (keys: LiveKeys = bed.keys): LiveWriterOptions => ({
    db: bed.db,
    redis: bed.redis,
    keys,
    generation: () => generation,
    cap: CAP,
    thresholds: THRESHOLDS,
    encodeUpdates: () => new Map(),
    log: silentLogger,
  });

/**
 * `count` lead partitions under the bed's prefix (their prefixes, returned now), each with the live state's generation
 * set before the suite and its keys removed after it.
 */
export function usePartitions(bed: LiveBed, generation: string, count: number): readonly string[] {
  const prefixes = partitionPrefixes(bed.prefix, count);
  beforeAll(async () => {
    for (const prefix of prefixes) await bed.redis.set(liveKeys(prefix).gen, generation);
  });
  afterAll(async () => {
    for (const prefix of prefixes) await (await createTestRedis(prefix)).cleanup();
  });
  return prefixes;
}
