// The scoring rules, held in memory so scoring never waits on a read: the rule set in force (`readRuleSet`), compiled
// once per version (`compileRuleSet`: rules indexed by event type, conditions as closures). A change reaches every
// worker within a second: the admin API publishes on the rules channel after each write and every worker reloads on
// the message; a periodic reload covers a message lost while a worker was reconnecting.
import {
  type Candidate,
  type CompiledRuleSet,
  compileRuleSet,
  type LeadProfile,
  type RuleSet,
} from "@leadscore/contracts";
import { type Logger, readRuleSet, rulesChannel, seedDefaultRules } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** The rule set in force, compiled: what an event may earn is `match`ed against it when the event is first scored. */
export interface RuleMatcher {
  readonly version: number;
  /** Whether a rule reads the lead's profile (`lead.*`): only then does the scorer read the batch's profiles. */
  readonly usesLead: boolean;
  match(
    event: { event_type: string; metadata?: Readonly<Record<string, unknown>> },
    lead?: LeadProfile | null,
  ): Candidate[];
}

export interface RulesCache {
  /** The rule set in force, compiled. */
  current(): RuleMatcher;
  /** Reads the rules again; concurrent calls share one read. */
  reload(): Promise<void>;
  /** Seeds the defaults into an empty collection, loads, subscribes and starts the periodic reload. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Times the rules were read (tests, metrics). */
  readonly loads: number;
  /** Times a read rule set was compiled (once per version). */
  readonly compiles: number;
}

export interface RulesCacheOptions {
  db: Db;
  /** A connection this cache may put in subscriber mode. */
  subscriber: Redis;
  redisPrefix: string;
  log: Logger;
  reloadIntervalMs?: number;
}

/** Whether any active rule of the set reads a field under `root` (in its condition or as its limit's key). */
function readsUnder(set: RuleSet, root: "lead." | "metadata."): boolean {
  const inTree = (node: unknown): boolean => {
    if (node === null || typeof node !== "object") return false;
    const record = node as Record<string, unknown>;
    if (typeof record.field === "string" && record.field.startsWith(root)) return true;
    return Object.values(record).some((child) =>
      Array.isArray(child) ? child.some(inTree) : typeof child === "object" && inTree(child),
    );
  };
  return set.rules.some((rule) => rule.active && (inTree(rule.where) || (rule.limit?.key?.startsWith(root) ?? false)));
}

/** Whether any rule of the set reads a `lead.*` field (in its condition or as its limit's key). */
export function readsLead(set: RuleSet): boolean {
  return readsUnder(set, "lead.");
}

/** Whether any rule of the set reads a `metadata.*` field: matching it again needs each event's stored metadata. */
export function readsMetadata(set: RuleSet): boolean {
  return readsUnder(set, "metadata.");
}

/** A rule set compiled for scoring. */
export function ruleMatcher(set: RuleSet): RuleMatcher {
  const compiled: CompiledRuleSet = compileRuleSet(set);
  return { version: set.version, usesLead: readsLead(set), match: compiled.match };
}

const NO_RULES = ruleMatcher({ version: 0, rules: [], groups: [] });

export function createRulesCache(options: RulesCacheOptions): RulesCache {
  const { db, subscriber, log } = options;
  const channel = rulesChannel(options.redisPrefix);
  const intervalMs = options.reloadIntervalMs ?? 5_000;
  let matcher = NO_RULES;
  let loading: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let loads = 0;
  let compiles = 0;

  const read = async () => {
    const set = await readRuleSet(db);
    loads += 1;
    // A stored version never changes; version 0 (rules that predate versions) is the collections as they are now.
    if (set.version !== 0 && set.version === matcher.version && compiles > 0) return;
    matcher = ruleMatcher(set);
    compiles += 1;
  };

  // A message that arrives while a read is in flight may describe a write that read missed: read once more after.
  const reload = (): Promise<void> => {
    if (loading) {
      again = true;
      return loading;
    }
    loading = (async () => {
      try {
        do {
          again = false;
          await read();
        } while (again);
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  const reloadLogged = () =>
    reload().catch((error: Error) =>
      log.warn("rules reload failed; keeping the previous rules", { error: error.message }),
    );

  subscriber.on("message", (from: string) => {
    if (from === channel) void reloadLogged();
  });

  return {
    current: () => matcher,
    reload,
    get loads() {
      return loads;
    },
    get compiles() {
      return compiles;
    },
    async start() {
      await seedDefaultRules(db);
      await subscriber.subscribe(channel);
      await reload();
      timer = setInterval(() => void reloadLogged(), intervalMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      await loading?.catch(() => undefined);
    },
  };
}
