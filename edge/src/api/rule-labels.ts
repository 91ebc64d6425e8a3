// The labels of the rules and groups in force, for answers that name them (a lead's breakdown). Read from MongoDB at
// most once per `maxAgeMs` and never on a request's way once the first read is done: a stale copy is answered while a
// fresh one is read, so a renamed rule shows its new label within `maxAgeMs` and MongoDB's state never delays a read.
import type { RuleSet } from "@leadscore/contracts";
import type { Logger } from "@leadscore/runtime";
import { readRuleSet } from "@leadscore/runtime";
import type { Db } from "mongodb";

export interface RuleLabels {
  rules: ReadonlyMap<string, string>;
  groups: ReadonlyMap<string, { label: string; max: number }>;
}

const NONE: RuleLabels = { rules: new Map(), groups: new Map() };

export function labelsOf(set: RuleSet): RuleLabels {
  return {
    rules: new Map(set.rules.map((rule) => [rule._id, rule.label])),
    groups: new Map(set.groups.map((group) => [group._id, { label: group.label, max: group.max }])),
  };
}

/** `labels()` answers the copy it has (none before the first read ends, or when MongoDB cannot be read). */
export function createRuleLabels(db: Db, log: Logger, maxAgeMs = 2_000, now = Date.now) {
  let held: RuleLabels | null = null;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | null = null;
  const refresh = () => {
    reading ??= readRuleSet(db)
      .then((set) => {
        held = labelsOf(set);
      })
      .catch((error: Error) => log.warn("rule labels not read", { error: error.message }))
      .finally(() => {
        readAt = now();
        reading = null;
      });
    return reading;
  };
  return {
    async labels(): Promise<RuleLabels> {
      if (held === null && reading === null && readAt === Number.NEGATIVE_INFINITY) await refresh();
      else if (now() - readAt > maxAgeMs) void refresh();
      return held ?? NONE;
    },
  };
}
