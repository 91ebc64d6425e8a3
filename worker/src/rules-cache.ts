// The scoring rules, held in memory so scoring never waits on a read. A change reaches every worker within a second:
// the admin API publishes on the rules channel after each write and every worker reloads on the message; a periodic
// reload covers a message lost while a worker was reconnecting.
import { COLLECTIONS, type RuleDocument } from "@leadscore/contracts";
import { type Logger, rulesChannel, seedDefaultRules } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

export interface RuleMatch {
  points: number;
  /** The rule's id, or null when no active rule covers the event type (then 0 points). */
  rule_id: string | null;
}

export interface RulesCache {
  /** Points an event of this type is worth right now. */
  ruleFor(eventType: string): RuleMatch;
  /** Reads the rules again; concurrent calls share one read. */
  reload(): Promise<void>;
  /** Seeds the defaults into an empty collection, loads, subscribes and starts the periodic reload. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Times the rules were read (tests, metrics). */
  readonly loads: number;
}

export interface RulesCacheOptions {
  db: Db;
  /** A connection this cache may put in subscriber mode. */
  subscriber: Redis;
  redisPrefix: string;
  log: Logger;
  reloadIntervalMs?: number;
}

const NO_RULE: RuleMatch = { points: 0, rule_id: null };

export function createRulesCache(options: RulesCacheOptions): RulesCache {
  const { db, subscriber, log } = options;
  const channel = rulesChannel(options.redisPrefix);
  const intervalMs = options.reloadIntervalMs ?? 5_000;
  let byType = new Map<string, RuleMatch>();
  let loading: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let loads = 0;

  const read = async () => {
    const docs = await db.collection<RuleDocument>(COLLECTIONS.rules).find({}).toArray();
    const next = new Map<string, RuleMatch>();
    for (const doc of docs) {
      if (doc.active === true && Number.isInteger(doc.points)) {
        next.set(doc.event_type, { points: doc.points, rule_id: String(doc._id) });
      }
    }
    byType = next;
    loads += 1;
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
    ruleFor: (eventType) => byType.get(eventType) ?? NO_RULE,
    reload,
    get loads() {
      return loads;
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
