import { COLLECTIONS } from "@leadscore/contracts";
import { createLiveReader } from "@leadscore/live";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { createTestDb, eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { createExpensiveReads } from "../src/api/expensive-reads.ts";
import { ApiError } from "../src/errors.ts";
import { historyEvents, scoredLead, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

const BUSY = {
  error: {
    code: "SERVICE_UNAVAILABLE",
    message:
      "1 expensive reads (searches, exports, older history, event metadata) are in progress in this process " +
      "(EXPENSIVE_READ_CONCURRENCY); try again",
    details: [],
  },
};

/** Every kind of expensive read, each of which holds a slot. */
const EXPENSIVE = [
  "/api/leads?q=acme",
  "/api/leads?company=Acme",
  "/api/leads/export.csv?q=acme",
  "/api/leads/export.csv",
  // 120 entries: the oldest are in MongoDB's pages, past Redis's tail.
  "/api/leads/hist/history?order=asc&limit=3",
  "/api/leads/hist/events/hist-e0000",
];

async function seed(edge: Edge) {
  await seederFor(edge).seed([
    scoredLead("alpha", 40),
    scoredLead("beta", 20, { profile: { company: "Other" } }),
    { id: "hist", events: historyEvents("hist", 120) },
  ]);
}

/**
 * A test edge with one expensive-read slot whose live reader has a gate before a search reads its candidates' live
 * state: `hold()` starts a search that waits there, keeping the slot, and resolves with a function that lets it go.
 */
async function createGatedEdge() {
  const redis = new Redis(REDIS_URL);
  const prefix = uniqueName();
  const reader = createLiveReader({ redis, redisPrefix: prefix, cap: 1000, thresholds: [100, 300, 600] });
  let gate: Promise<void> | null = null;
  const live = {
    ...reader,
    async leads(ids: string[]) {
      if (gate) await gate;
      return reader.leads(ids);
    },
  };
  const edge = await createTestEdge({ EXPENSIVE_READ_CONCURRENCY: "1", REDIS_PREFIX: prefix }, { live });
  const inFlight = async () =>
    (await (await edge.app.request("/metrics")).text()).match(/^leadscore_edge_expensive_reads_in_flight (\d+)$/m)?.[1];
  return {
    edge,
    /** A search holding the slot until the returned function is called; that function resolves with its answer. */
    async hold(): Promise<() => Promise<Response>> {
      let open = () => {};
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const search = Promise.resolve(edge.read("/api/leads?company=Acme"));
      await eventually(async () => (await inFlight()) === "1");
      return () => {
        open();
        gate = null;
        return search;
      };
    },
    async close() {
      await edge.close();
      redis.disconnect();
    },
  };
}

describe("when every expensive-read slot is taken", () => {
  let gated: Awaited<ReturnType<typeof createGatedEdge>>;
  let edge: Edge;
  beforeAll(async () => {
    gated = await createGatedEdge();
    edge = gated.edge;
    await seed(edge);
  });
  afterAll(() => gated.close());

  it("refuses each expensive read with 503 and Retry-After until the slot is free, and serves the rest", async () => {
    // Precondition: each read succeeds while the slot is free.
    for (const path of EXPENSIVE) {
      const response = await edge.read(path);
      expect([200, 404], path).toContain(response.status);
      await response.arrayBuffer();
    }
    const release = await gated.hold();

    for (const path of EXPENSIVE) {
      const response = await edge.read(path);
      expect(response.status, path).toBe(503);
      expect(response.headers.get("retry-after"), path).toBe("1");
      expect(await response.json(), path).toEqual(BUSY);
    }
    // The hot paths and the live reads take no slot.
    for (const path of ["/api/leads?sort=-score", "/api/leads/alpha", "/api/leads/hist/history", "/api/stats"]) {
      expect((await edge.read(path)).status, path).toBe(200);
    }
    expect((await edge.app.request("/healthz")).status).toBe(200);
    const metrics = await (await edge.app.request("/metrics")).text();
    expect(metrics).toContain("leadscore_edge_expensive_reads_in_flight 1\n");
    expect(metrics).toContain(`leadscore_edge_expensive_reads_refused_total{reason="busy"} ${EXPENSIVE.length}\n`);
    expect(metrics).toContain('leadscore_edge_expensive_reads_refused_total{reason="timeout"} 0\n');

    expect((await release()).status).toBe(200);
    const search = await edge.read("/api/leads?q=acme");
    expect(search.status).toBe(200);
    expect(((await search.json()) as { _id: string }[]).map((lead) => lead._id)).toEqual(["alpha"]);
  });

  it("takes no slot for a HEAD of the export, whose body is never read", async () => {
    for (let i = 0; i < 3; i++) {
      const head = await edge.read("/api/leads/export.csv", { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    }
    expect((await edge.read("/api/leads?q=acme")).status).toBe(200);
  });

  it("holds no slot for an export whose body is left unread", async () => {
    const unread = await edge.read("/api/leads/export.csv");
    expect(unread.status).toBe(200);
    expect((await edge.read("/api/leads?q=acme")).status).toBe(200);
    await unread.body?.cancel();
  });

  it("frees the slot when an export has been read to its end", async () => {
    const exported = await edge.read("/api/leads/export.csv?sort=-score");
    expect(exported.status).toBe(200);
    expect((await exported.text()).split("\r\n").map((line) => line.split(",")[0])).toEqual([
      "_id",
      "hist",
      "alpha",
      "beta",
      "",
    ]);
    expect((await edge.read("/api/leads?company=Other")).status).toBe(200);
  });
});

describe("when a streaming export needs another page while the slot is taken", () => {
  let gated: Awaited<ReturnType<typeof createGatedEdge>>;
  beforeAll(async () => {
    gated = await createGatedEdge();
    // Two pages of the export (200 a page).
    await seederFor(gated.edge).seed(Array.from({ length: 203 }, (_, i) => scoredLead(`bulk-${i}`, 1)));
  });
  afterAll(() => gated.close());

  it("waits for the slot rather than cut the CSV short", async () => {
    const exported = await gated.edge.read("/api/leads/export.csv");
    expect(exported.status).toBe(200);
    const release = await gated.hold();
    const text = exported.text();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const search = release();
    expect((await text).split("\r\n")).toHaveLength(1 + 203 + 1);
    expect((await search).status).toBe(200);
  });
});

describe("when an expensive read runs past its time limit", () => {
  let edge: Edge;
  let clock = 0;
  beforeAll(async () => {
    // Each look at the clock moves it on a second: every read is past a 500 ms limit at its first check.
    edge = await createTestEdge({ EXPENSIVE_READ_TIMEOUT_MS: "500" }, { now: () => (clock += 1000) });
    await seed(edge);
  });
  afterAll(() => edge.close());

  const TIMED_OUT = {
    error: {
      code: "SERVICE_UNAVAILABLE",
      message: "the read took longer than 500 ms (EXPENSIVE_READ_TIMEOUT_MS) and was stopped; narrow it",
      details: [],
    },
  };

  it("stops a search, an export's search and older history with 503, and frees their slots", async () => {
    for (const path of [
      "/api/leads?q=acme",
      "/api/leads/export.csv?company=Acme",
      "/api/leads/hist/history?order=asc&limit=3",
    ]) {
      const response = await edge.read(path);
      expect(response.status, path).toBe(503);
      expect(response.headers.get("content-type"), path).toMatch(/^application\/json/);
      expect(await response.json(), path).toEqual(TIMED_OUT);
    }
    // Two slots by default, and three reads stopped: none kept its slot.
    const metrics = await (await edge.app.request("/metrics")).text();
    expect(metrics).toContain("leadscore_edge_expensive_reads_in_flight 0\n");
    expect(metrics).toContain('leadscore_edge_expensive_reads_refused_total{reason="timeout"} 3\n');
    expect((await edge.read("/api/leads?sort=-score")).status).toBe(200);
    expect((await edge.read("/api/leads/hist/history")).status).toBe(200);
  });
});

describe("when reads find every slot taken", () => {
  /** A read that holds its slot until `open()` is called, and records when it ran. */
  function gatedRead(ran: string[], name: string) {
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    return {
      open,
      read: async () => {
        ran.push(name);
        await gate;
        return name;
      },
    };
  }

  it("parks up to 4 per slot, hands each freed slot to the first waiting, and refuses the rest at once", async () => {
    const reads = createExpensiveReads({ concurrency: 1, timeoutMs: 60_000, slotWaitMs: 60_000 });
    const ran: string[] = [];
    const first = gatedRead(ran, "first");
    const running = reads.run(first.read);
    const waiters = ["w1", "w2", "w3", "w4"].map((name) =>
      reads.run(async () => {
        ran.push(name);
        return name;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(ran).toEqual(["first"]);
    expect(reads.inFlight()).toBe(1);
    // A fifth waiter would pass the cap: refused without waiting (the others wait a minute).
    const refused = await reads.run(async () => "w5").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).headers).toEqual({ "Retry-After": "1" });
    expect(reads.refused()).toEqual({ busy: 1, timedOut: 0 });

    first.open();
    expect(await running).toBe("first");
    expect(await Promise.all(waiters)).toEqual(["w1", "w2", "w3", "w4"]);
    expect(ran).toEqual(["first", "w1", "w2", "w3", "w4"]);
    expect(reads.inFlight()).toBe(0);
    expect(await reads.run(async () => "after")).toBe("after");
  });

  it("refuses a read that waited its time without a slot freeing", async () => {
    const reads = createExpensiveReads({ concurrency: 1, timeoutMs: 60_000, slotWaitMs: 20 });
    const first = gatedRead([], "first");
    const running = reads.run(first.read);
    const refused = await reads.run(async () => "late").catch((error: unknown) => error);
    expect((refused as ApiError).toBody()).toEqual(BUSY);
    first.open();
    await running;
    expect(reads.inFlight()).toBe(0);
    expect(reads.refused()).toEqual({ busy: 1, timedOut: 0 });
  });
});

describe("when a MongoDB query runs past maxTimeMS", () => {
  const test = { db: null as Awaited<ReturnType<typeof createTestDb>> | null };
  beforeAll(async () => {
    test.db = await createTestDb();
    const docs = Array.from({ length: 20_000 }, (_, i) => ({ _id: `p${i}`, name: `Name ${i}`, company: `Co ${i}` }));
    await test.db.db.collection<{ _id: string }>(COLLECTIONS.leads).insertMany(docs);
  }, 60_000);
  afterAll(() => test.db?.drop());

  it("answers the same 503 as a read past its deadline", async () => {
    const reads = createExpensiveReads({ concurrency: 1, timeoutMs: 60_000 });
    const leads = test.db?.db.collection(COLLECTIONS.leads);
    if (!leads) throw new Error("no database");
    // Precondition: the query itself completes without a limit, matching nothing (a scan of all 20,000).
    expect(await leads.find({ name: { $regex: uniqueName(), $options: "i" } }).toArray()).toEqual([]);
    const stopped = await reads
      .run(() =>
        leads
          .find({ name: { $regex: uniqueName(), $options: "i" } })
          .maxTimeMS(1)
          .toArray(),
      )
      .catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(ApiError);
    expect((stopped as ApiError).toBody().error.message).toBe(
      "the read took longer than 60000 ms (EXPENSIVE_READ_TIMEOUT_MS) and was stopped; narrow it",
    );
    expect(reads.inFlight()).toBe(0);
    expect(reads.refused()).toEqual({ busy: 0, timedOut: 1 });
  });
});

describe("when a read paces itself between two steps", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits three times as long as it worked since its last pause, at most 50 ms", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
    const reads = createExpensiveReads({ concurrency: 1, timeoutMs: 60_000 });
    const paused: number[] = [];
    await reads.run(async (budget) => {
      for (const work of [10, 5, 40]) {
        vi.advanceTimersByTime(work);
        let done = false;
        const pause = budget.pace().then(() => {
          done = true;
        });
        let waited = 0;
        while (!done && waited < 100) {
          await vi.advanceTimersByTimeAsync(1);
          waited += 1;
        }
        await pause;
        paused.push(waited);
      }
    });
    expect(paused).toEqual([30, 15, 50]);
  });
});
