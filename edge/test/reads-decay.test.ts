// Every read with decay on answers at one instant, the request's: the searches' score and stage filters, a list's
// page and its X-Total-Count, the stats' funnel and histogram, and every page of a CSV export. The edge's clock ticks
// on every read of it here, so a read that took the time twice would file a lead under one stage and show another.
import { writeScoringSettings } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecayEdge } from "../../test-support/decay-edge.ts";
import { createStack, queued, type TestStack } from "../../test-support/worker-stack.ts";

const H = 5;
/** A lead scored 600 by one "big" event is hot until 5 s after it (600 → 300) and warm from the next millisecond. */
const HOT_FOR_MS = 5_000;

let stack: TestStack;
let edge: Awaited<ReturnType<typeof createDecayEdge>>;
/** The edge's clock: read as is while `step` is 0, else moved on by `step` after every read. */
let clock = 0;
let step = 0;

beforeAll(async () => {
  stack = await createStack();
  await writeScoringSettings(stack.db, { half_life_seconds: H }, new Date());
  await stack.startWorker({ rulesReloadMs: 3_600_000 });
  edge = await createDecayEdge(stack, () => {
    const t = clock;
    clock += step;
    return t;
  });
});

afterAll(async () => {
  edge?.close();
  await stack?.close();
});

/** A clock standing at `t`, moving on by `by` ms at every read. */
function setClock(t: number, by = 0) {
  clock = t;
  step = by;
}

interface ListedLead {
  _id: string;
  current_score: number;
  stage: string;
}

async function list(path: string): Promise<{ leads: ListedLead[]; total: number }> {
  const response = await edge.read(path);
  expect(response.status).toBe(200);
  return { leads: (await response.json()) as ListedLead[], total: Number(response.headers.get("x-total-count")) };
}

describe("reads with a half-life of 5 s", () => {
  it("filters a company or q search by the score and stage at the request's instant, and shows that score", async () => {
    const at = Date.now() - 60_000;
    const profile = { name: "Ada Decay", email: "ada@acme-decay.test", company: "Acme Decay" };
    expect((await edge.send("POST", "/api/leads", { _id: "rd-search", ...profile })).status).toBe(201);
    await stack.send([queued("rd-search", "rd-s1", "big", at)]);
    await stack.drained();
    // 6 s after its event: 600 · 2^−1.2 ≈ 261, warm.
    setClock(at + 6_000);
    const warm = 600 * 2 ** -1.2;
    for (const filter of ["company=acme%20decay", "q=ada%20acme"]) {
      expect(await list(`/api/leads?${filter}&stage=hot`)).toEqual({ leads: [], total: 0 });
      expect(await list(`/api/leads?${filter}&min_score=262`)).toEqual({ leads: [], total: 0 });
      const found = await list(`/api/leads?${filter}&stage=warm&max_score=262`);
      expect(found.total).toBe(1);
      expect(found.leads).toMatchObject([{ _id: "rd-search", stage: "warm", current_score: warm }]);
    }
    // 4 s after: ≈ 345, hot.
    setClock(at + 4_000);
    expect((await list("/api/leads?company=acme%20decay&stage=hot")).leads).toMatchObject([
      { _id: "rd-search", stage: "hot", current_score: 600 * 2 ** -0.8 },
    ]);
  });

  describe("while the clock moves during the request", () => {
    const at = Date.now() - 120_000;
    // Ten leads leaving hot 100 ms apart, read with a clock that moves 150 ms at every read of it.
    const ids = Array.from({ length: 10 }, (_, i) => `rd-tick-${i}`);

    beforeAll(async () => {
      await stack.send(ids.map((id, i) => queued(id, `${id}-e`, "big", at + 100 * i)));
      await stack.drained();
    });

    it("lists the leads of a stage, counted and shown, at one instant", async () => {
      setClock(at + HOT_FOR_MS, 150);
      const { leads, total } = await list("/api/leads?stage=hot&min_score=300");
      expect(leads.length).toBeGreaterThan(0);
      expect(total).toBe(leads.length);
      for (const lead of leads) {
        expect(lead.stage).toBe("hot");
        expect(lead.current_score).toBeGreaterThanOrEqual(300);
      }
    });

    it("counts the funnel and the histogram at one instant", async () => {
      setClock(at + HOT_FOR_MS, 150);
      const response = await edge.read("/api/stats");
      const stats = (await response.json()) as {
        by_stage: Record<string, number>;
        score_histogram: { from: number; to: number; count: number }[];
      };
      const inHistogram = (from: number, below: number) =>
        stats.score_histogram
          .filter((bucket) => bucket.from >= from && bucket.to < below)
          .reduce((sum, bucket) => sum + bucket.count, 0);
      expect(stats.by_stage.hot).toBe(inHistogram(300, 600));
      expect(stats.by_stage.warm).toBe(inHistogram(100, 300));
    });
  });

  it("exports every page at the instant the export was asked for", async () => {
    const at = Date.now() - 180_000;
    // More than one page of leads (200 a page), hot when the export is asked for and warm 2 s later.
    const ids = Array.from({ length: 205 }, (_, i) => `rd-export-${String(i).padStart(3, "0")}`);
    await stack.send(ids.map((id, i) => queued(id, `${id}-e`, "big", at + i)));
    await stack.drained();
    setClock(at + HOT_FOR_MS - 1_000, 2_000);
    const response = await edge.read("/api/leads/export.csv?stage=hot&min_score=300");
    expect(response.status).toBe(200);
    const rows = (await response.text()).trim().split("\r\n").slice(1);
    const exported = rows.map((row) => row.split(",")).filter(([id]) => id?.startsWith("rd-export-"));
    expect(exported.map(([id]) => id).sort()).toEqual(ids);
    for (const row of exported) expect(row[5]).toBe("hot");
  });
});
