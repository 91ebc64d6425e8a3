// The de-duplication window's cost in Redis: bytes held per event id in the window, and Redis CPU per id claimed and
// confirmed, for the edge's bucket hashes (`dedupeSlot`, `lua/claim-ids.lua`, `lua/confirm-ids.lua`) beside a key per
// id (`SET id p EX 10 NX`, then `SET id 1 EX <window> XX`) two ways: in the edge's earlier scripts
// (`bench/lua/key-per-id-*.lua`) and as plain pipelined commands (raw Redis), in the same run, on a redis-server of
// its own (nothing else in its memory).
//
//   npm run bench:dedupe [-- --events 1000000 --buckets 10000 --window 86400 --rounds 2]
//
// `--buckets` defaults to events / 100, as docs/ingestion.md advises for DEDUPE_BUCKETS. Ids are UUIDv7-like
// (36 characters, as the edge mints them), sent in calls of 500 as a busy edge batches them.
import { parseArgs } from "node:util";
import { createClaimer } from "@leadscore/edge";
import { dedupeSlot, redisScript } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { startPrivateRedis } from "../test-support/processes.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    buckets: { type: "string" },
    window: { type: "string", default: "86400" },
    rounds: { type: "string", default: "2" },
  },
});
const EVENTS = Number(args.events);
const BUCKETS = Number(args.buckets ?? Math.max(1, Math.round(EVENTS / 100)));
const WINDOW = Number(args.window);
const ROUNDS = Number(args.rounds);
const CALL = 500;
const KEY_CLAIM = redisScript<number[]>(new URL("./lua/key-per-id-claim.lua", import.meta.url));
const KEY_CONFIRM = redisScript<number>(new URL("./lua/key-per-id-confirm.lua", import.meta.url));

const ids = (round: number) =>
  Array.from(
    { length: EVENTS },
    (_, i) => `019a${round.toString(16).padStart(4, "0")}-7c00-7000-8000-${i.toString(16).padStart(12, "0")}`,
  );

async function usage(redis: Redis) {
  const memory = await redis.info("memory");
  const cpu = await redis.info("cpu");
  const read = (text: string, name: string) => Number(text.match(new RegExp(`^${name}:([\\d.]+)`, "m"))?.[1]);
  return {
    bytes: read(memory, "used_memory"),
    cpu: read(cpu, "used_cpu_user") + read(cpu, "used_cpu_sys"),
  };
}

async function measure(redis: Redis, label: string, work: () => Promise<void>) {
  await redis.flushall();
  const before = await usage(redis);
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  const after = await usage(redis);
  return {
    label,
    bytesPerEvent: (after.bytes - before.bytes) / EVENTS,
    redisMicrosPerEvent: ((after.cpu - before.cpu) * 1e6) / EVENTS,
    eventsPerSecond: EVENTS / seconds,
  };
}

const server = await startPrivateRedis(["--save", "", "--appendonly", "no"]);
const redis = new Redis(server.url);
try {
  const rows: Awaited<ReturnType<typeof measure>>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const all = ids(round);
    rows.push(
      await measure(redis, "buckets", async () => {
        const claimer = createClaimer({ redis, ttlSeconds: WINDOW, maxKeys: CALL });
        for (let i = 0; i < all.length; i += CALL) {
          const slots = all.slice(i, i + CALL).map((id) => dedupeSlot("bench", id, BUCKETS));
          await claimer.claim(slots);
          await claimer.confirm(slots);
        }
        await claimer.flush();
      }),
    );
    rows.push(
      await measure(redis, "key scripts", async () => {
        for (let i = 0; i < all.length; i += CALL) {
          const keys = all.slice(i, i + CALL).map((id) => `bench:dedupe:${id}`);
          await KEY_CLAIM.run(redis, keys, [10]);
          await KEY_CONFIRM.run(redis, keys, [WINDOW]);
        }
      }),
    );
    rows.push(
      await measure(redis, "key raw", async () => {
        for (let i = 0; i < all.length; i += CALL) {
          const keys = all.slice(i, i + CALL).map((id) => `bench:dedupe:${id}`);
          const claim = redis.pipeline();
          for (const key of keys) claim.set(key, "p", "EX", 10, "NX");
          await claim.exec();
          const confirm = redis.pipeline();
          for (const key of keys) confirm.set(key, "1", "EX", WINDOW, "XX");
          await confirm.exec();
        }
      }),
    );
  }
  console.log(
    `${EVENTS.toLocaleString("en")} ids in the window, ${BUCKETS.toLocaleString("en")} buckets, window ${WINDOW} s`,
  );
  console.log("layout       bytes/event  Redis µs/event  events/s (claim + confirm, one client)");
  for (const row of rows) {
    console.log(
      `${row.label.padEnd(12)} ${row.bytesPerEvent.toFixed(1).padStart(11)}  ${row.redisMicrosPerEvent.toFixed(2).padStart(14)}  ${Math.round(row.eventsPerSecond).toLocaleString("en").padStart(9)}`,
    );
  }
  const mean = (label: string, pick: (row: (typeof rows)[number]) => number) => {
    const own = rows.filter((row) => row.label === label).map(pick);
    return own.reduce((a, b) => a + b, 0) / own.length;
  };
  for (const base of ["key scripts", "key raw"]) {
    console.log(
      `ratio buckets / ${base}: memory ${(mean("buckets", (r) => r.bytesPerEvent) / mean(base, (r) => r.bytesPerEvent)).toFixed(2)}×, Redis CPU ${(mean("buckets", (r) => r.redisMicrosPerEvent) / mean(base, (r) => r.redisMicrosPerEvent)).toFixed(2)}×`,
    );
  }
} finally {
  redis.disconnect();
  await server.stop();
}
