// What a read or a delete by `_id` costs on the store MONGO_URL names, as a catch-up reads a lost event, a history
// read its lead's settled pages and the page sweep deletes retired ones: --events documents shaped like stored events
// (or, with --shape page, like history pages of ~2 KB) in a database of its own (dropped at the end), then reads of
// the first, the last and a missing `_id`, one `$in` of 16 and the same 16 by `findByIds` (one `_id` equality each, as
// history reads and the deep lane read pages), then deletes of 16 documents not deleted before, by one `deleteMany` of
// an `$in` and by `deleteByIds` (one `_id` equality each, as the page sweep deletes), each --times times, with the
// query plan the server answers for an `_id` equality. On FerretDB 1.24's SQLite backend
// as released the plan is a scan (docs/worker.md § Restarts), so the last and the missing cost what the collection
// holds; on the build scripts/services.ts makes, and on MongoDB, each is an index lookup. An `$in` is a scan on either
// FerretDB.
//
//   npm run bench:id-reads                      # 20,000 documents
//   npm run bench:id-reads -- --events 100000
//   npm run bench:id-reads -- --events 100000 --shape page

import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { deleteByIds, findByIds } from "@leadscore/runtime";
import { createTestDb } from "../test-support/index.ts";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    times: { type: "string", default: "8" },
    shape: { type: "string", default: "event" },
  },
});
const EVENTS = Number(args.events);
const TIMES = Number(args.times);

interface Doc {
  _id: string;
  lead_id: string;
  type: string;
  ts: Date;
  metadata: { path: string; n: number };
}
/** About a history page's worth of entries (a page holds ~50, each ~40 bytes of JSON and more). */
const PAGE_ENTRIES = JSON.stringify(Array.from({ length: 50 }, (_, n) => ["e".repeat(12), n, 5, n * 5, "page_view"]));
const doc = (i: number): Doc => ({
  _id: `e${i}`,
  lead_id: `l${i % 2000}`,
  type: "page_view",
  ts: new Date(),
  metadata: args.shape === "page" ? { path: PAGE_ENTRIES, n: i } : { path: "/x".repeat(20), n: i },
});

const { db, drop } = await createTestDb();
try {
  console.log(
    `id reads: ${EVENTS.toLocaleString("en")} documents (${args.shape}); load average ${loadavg()[0]?.toFixed(1)}`,
  );
  const events = db.collection<Doc>("events");
  for (let from = 0; from < EVENTS; from += 1_000) {
    await events.insertMany(Array.from({ length: Math.min(1_000, EVENTS - from) }, (_, i) => doc(from + i)));
  }
  const explained = (await events.find({ _id: `e${EVENTS - 1}` }).explain()) as { queryPlanner?: unknown };
  console.log(`  plan of an _id equality: ${JSON.stringify(explained.queryPlanner)}`);
  const time = async (label: string, read: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < TIMES; i++) {
      const began = performance.now();
      await read();
      ms.push(performance.now() - began);
    }
    ms.sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)] ?? 0;
    console.log(`  ${label}: median ${median.toFixed(1)} ms, max ${(ms.at(-1) ?? 0).toFixed(1)} ms`);
  };
  const projection = { metadata: 0 };
  await time("findOne the first _id", () => events.findOne({ _id: "e0" }, { projection }));
  await time("findOne the last _id", () => events.findOne({ _id: `e${EVENTS - 1}` }, { projection }));
  await time("findOne a missing _id", () => events.findOne({ _id: "missing" }, { projection }));
  const sixteen = Array.from({ length: 16 }, (_, i) => `e${EVENTS - 1 - i}`);
  await time("find $in of the last 16", () => events.find({ _id: { $in: sixteen } }, { projection }).toArray());
  await time("findByIds of the last 16", () => findByIds(events, sixteen, { projection }));
  await time("findByIds of the last 16, one at a time", () => findByIds(events, sixteen, { projection, inFlight: 1 }));
  // Each delete takes 16 documents no delete took before, from the end of the collection down.
  let kept = EVENTS;
  const nextSixteen = () => Array.from({ length: 16 }, () => `e${--kept}`);
  await time("deleteMany $in of 16", () => events.deleteMany({ _id: { $in: nextSixteen() } }));
  await time("deleteByIds of 16", () => deleteByIds(events, nextSixteen()));
} finally {
  await drop();
}
