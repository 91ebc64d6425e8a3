// Bytes of Redis a lead costs active and idle (live/src/idle.ts): `MEMORY USAGE` of every live key of the deployment
// — the leads' hashes and every index they sit in (score, updated_at and last_event_at, global and per stage) —
// divided by the leads, with their history in Redis as the worker leaves it, then again once every lead has shed it.
// The leads are scored by a real worker on the shared Redis and MongoDB, under a prefix and database of their own.
//
//   npm run bench:idle-memory [-- --leads 10000 --events 12]
//
// Events per lead default to ~12, as the sizing table in docs/operations.md assumes; their types are the defaults.
import { parseArgs } from "node:util";
import { DEFAULT_RULES } from "@leadscore/contracts";
import { IDLE_MARK, liveKeys, shrinkIdleLeads } from "@leadscore/live";
import { Redis } from "ioredis";
import { REDIS_URL } from "../test-support/index.ts";
import { createStack, queued } from "../test-support/worker-stack.ts";

const { values: args } = parseArgs({
  options: {
    leads: { type: "string", default: "10000" },
    events: { type: "string", default: "12" },
  },
});
const LEADS = Number(args.leads);
const EVENTS = Number(args.events);
const HOUR = 3_600_000;

/** A live key's family: its name after the prefix, a lead's tag (`{id}`) left out (`lead:{}`, `idx:score`, …). */
const familyOf = (key: string, base: string) => key.slice(base.length).replace(/\{[^}]*\}/, "{}");

/** `MEMORY USAGE` summed over the keys matching `pattern`, how many there are, and the bytes of each family. */
async function memoryOf(
  redis: Redis,
  pattern: string,
): Promise<{ bytes: number; keys: number; families: Map<string, number> }> {
  const base = pattern.slice(0, -1);
  const families = new Map<string, number>();
  let cursor = "0";
  let bytes = 0;
  let keys = 0;
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.memory("USAGE", key, "SAMPLES", 0);
    ((await pipeline.exec()) ?? []).forEach(([error, used], index) => {
      if (error) throw error;
      const family = familyOf(found[index] as string, base);
      families.set(family, (families.get(family) ?? 0) + Number(used ?? 0));
      bytes += Number(used ?? 0);
      keys += 1;
    });
  } while (cursor !== "0");
  return { bytes, keys, families };
}

async function leadHashBytes(redis: Redis, keys: ReturnType<typeof liveKeys>, sample: string[]): Promise<number> {
  const pipeline = redis.pipeline();
  for (const id of sample) pipeline.memory("USAGE", keys.lead(id), "SAMPLES", 0);
  const used = ((await pipeline.exec()) ?? []).map(([, bytes]) => Number(bytes ?? 0));
  return used.reduce((sum, bytes) => sum + bytes, 0) / sample.length;
}

const meanLength = (ids: string[]) => (ids.reduce((sum, id) => sum + id.length, 0) / ids.length).toFixed(1);

async function main() {
  const stack = await createStack();
  const redis = new Redis(REDIS_URL);
  try {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    await stack.startWorker();
    const types = DEFAULT_RULES.map((rule) => rule.event_type);
    const t0 = Date.now() - 30 * 24 * HOUR;
    const started = performance.now();
    for (let from = 0; from < LEADS; from += 1000) {
      const events = [];
      for (let lead = from; lead < Math.min(from + 1000, LEADS); lead++) {
        for (let n = 0; n < EVENTS; n++) {
          const type = types[(lead + n) % types.length] as string;
          events.push(queued(`lead-${lead}`, `ev-${lead}-${n}`, type, t0 + n * HOUR + lead));
        }
      }
      await stack.send(events, 500);
    }
    await stack.drained(30 * 60_000);
    const scoredIn = (performance.now() - started) / 1000;
    const sample = Array.from({ length: Math.min(LEADS, 1000) }, (_, i) => `lead-${Math.floor((i * LEADS) / 1000)}`);

    const active = await memoryOf(redis, keys.pattern);
    const activeHash = await leadHashBytes(redis, keys, sample);
    const shrinkStarted = performance.now();
    const shrunk = await shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 0, now: () => Date.now() + 1 });
    const shrinkSeconds = (performance.now() - shrinkStarted) / 1000;
    const idle = await memoryOf(redis, keys.pattern);
    const idleHash = await leadHashBytes(redis, keys, sample);
    const marked = (await Promise.all(sample.map((id) => redis.hexists(keys.lead(id), IDLE_MARK)))).filter(Boolean);

    const perLead = (bytes: number) => Math.round(bytes / LEADS);
    console.log(
      `idle memory: ${LEADS.toLocaleString("en-US")} leads × ${EVENTS} events, scored in ${scoredIn.toFixed(1)} s; ` +
        `${shrunk.toLocaleString("en-US")} shrunk in ${shrinkSeconds.toFixed(1)} s (${marked.length}/${sample.length} of a sample idle)`,
    );
    console.log(
      [
        "",
        "| lead | bytes per lead (every live key ÷ leads) | its hash alone (mean of a sample) | index entries and the rest |",
        "| --- | ---: | ---: | ---: |",
        `| active | ${perLead(active.bytes)} | ${Math.round(activeHash)} | ${perLead(active.bytes) - Math.round(activeHash)} |`,
        `| idle | ${perLead(idle.bytes)} | ${Math.round(idleHash)} | ${perLead(idle.bytes) - Math.round(idleHash)} |`,
        "",
        `live keys: ${active.keys.toLocaleString("en-US")} active, ${idle.keys.toLocaleString("en-US")} idle; ` +
          `idle ÷ active: ${(idle.bytes / active.bytes).toFixed(2)}×`,
        `lead ids: ${meanLength(sample)} characters on average (\`lead-<n>\`); a lead's hash key: ` +
          `${keys.lead(sample[0] as string).length} characters`,
        "",
        "| key (per lead: its bytes ÷ leads) | active | idle |",
        "| --- | ---: | ---: |",
        ...[...new Set([...active.families.keys(), ...idle.families.keys()])]
          .sort()
          .map(
            (family) =>
              `| ${family} | ${perLead(active.families.get(family) ?? 0)} | ${perLead(idle.families.get(family) ?? 0)} |`,
          ),
      ].join("\n"),
    );
  } finally {
    redis.disconnect();
    await stack.close();
  }
}

await main();
