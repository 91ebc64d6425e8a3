import { STAGES, type Stage, stageFor } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { createTestEdge } from "../../test-support/edge.ts";
import type { LeadSeed } from "../../test-support/live.ts";
import { MovementSchema } from "../src/routes/movements/index.ts";
import { BASE, nextLink, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Movement = z.infer<typeof MovementSchema>;

const SCORES = [150, 350, 650];

describe("GET /api/movements", () => {
  let edge: Edge;
  let seeded = 0;
  /** Leads moving from cold into warm, hot and qualified in turn, all in one commit (so in the same millisecond). */
  const seedLeads = async (count: number, tag: string): Promise<string[]> =>
    (await seedMoving(count, tag)).map((lead) => lead.id);
  const seedMoving = async (count: number, tag: string): Promise<{ id: string; stage: Stage }[]> => {
    const seeder = seederFor(edge);
    const leads: LeadSeed[] = Array.from({ length: count }, (_, n) => {
      const score = SCORES[(seeded + n) % SCORES.length] as number;
      const id = `${tag}-${seeded + n}`;
      return seeder.scored(id, score, BASE + n, {
        movement: { event_id: `${id}-e`, event_type: "purchase", timestamp: BASE + n, score },
      });
    });
    seeded += count;
    await seeder.seed(leads);
    return leads.map((lead) => ({ id: lead.id, stage: stageFor(lead.movement?.score ?? 0) }));
  };
  const page = async (path: string) => {
    const response = await edge.read(path);
    expect(response.status, path).toBe(200);
    const body = (await response.json()) as Movement[];
    for (const movement of body) expect(() => MovementSchema.parse(movement)).not.toThrow();
    return { body, next: nextLink(response) };
  };

  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("lists each lead that entered a stage, with the event that moved it", async () => {
    // Tests run in any order: only what this one records counts (an epoch-ms window).
    const since = Date.now() + 1;
    await new Promise((resolve) => setTimeout(resolve, 2));
    const [id] = await seedLeads(1, "one");
    const { body, next } = await page(`/api/movements?since=${since}`);
    expect(next).toBeNull();
    expect(body).toEqual([
      {
        lead_id: id,
        from: "cold",
        to: stageFor(SCORES[0] as number),
        at: new Date(BASE).toISOString(),
        event_id: `${id}-e`,
        event_type: "purchase",
        timestamp: new Date(BASE).toISOString(),
        score: SCORES[0],
      },
    ]);
    expect((await page(`/api/movements?stage=hot&since=${since}`)).body).toEqual([]);
    expect((await page(`/api/movements?since=${new Date(Date.now() + 60_000).toISOString()}`)).body).toEqual([]);
  });

  describe("while leads keep moving between pages", () => {
    it("pages every stage, newest first, without skipping or repeating one, and lists none added since", async () => {
      // Two commits of 12: within each, the same millisecond in three streams, so pages end between ties.
      const older = await seedLeads(12, "all");
      const newer = await seedLeads(12, "all");
      const seen: string[] = [];
      let path: string | null = "/api/movements?since=1h&limit=5";
      while (path) {
        const { body, next } = await page(path);
        seen.push(...body.map((movement) => movement.lead_id));
        await seedLeads(3, "later-all");
        path = next;
      }
      const expected = [...newer, ...older];
      expect(seen.filter((id) => id.startsWith("all-")).sort()).toEqual([...expected].sort());
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => id.startsWith("later-all-"))).toEqual([]);
      // Newest first: every lead of the second commit before any of the first.
      const position = (id: string) => seen.indexOf(id);
      expect(Math.max(...newer.map(position))).toBeLessThan(Math.min(...older.map(position)));
    });

    it("pages one stage the same way", async () => {
      const hot = (await seedMoving(15, "hot")).filter((lead) => lead.stage === "hot").map((lead) => lead.id);
      expect(hot.length).toBe(5);
      const seen: string[] = [];
      let path: string | null = "/api/movements?stage=hot&since=1h&limit=2";
      while (path) {
        const { body, next } = await page(path);
        for (const movement of body) expect(movement.to).toBe("hot");
        seen.push(...body.map((movement) => movement.lead_id));
        await seedLeads(3, "later-hot");
        path = next;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => id.startsWith("hot-")).sort()).toEqual([...hot].sort());
      expect(seen.filter((id) => id.startsWith("later-hot-"))).toEqual([]);
    });
  });

  it("refuses bad parameters in the error shape", async () => {
    const forged = (position: object) => Buffer.from(JSON.stringify(position)).toString("base64url");
    const cursor = new URL(
      `http://x${(await page("/api/movements?stage=warm&since=1h&limit=1")).next as string}`,
    ).searchParams.get("cursor");
    const cases: [string, string, string][] = [
      ["since=yesterday", "since", "must be 24h, 7d"],
      ["since=8d", "since", "must be 24h, 7d"],
      ["stage=lukewarm", "stage", `must be one of ${STAGES.join(", ")}`],
      ["limit=0", "limit", "must be at least 1"],
      [`cursor=${cursor}`, "cursor", "is not a cursor this endpoint issued for these parameters"],
      // A forged cursor whose window starts past what a stream id can say.
      [`cursor=${forged({ id: "1-0", to: "hot", stage: null, since: 1e300 })}`, "cursor", "is not a cursor"],
      ["order=asc", "order", "unknown parameter"],
    ];
    for (const [query, path, message] of cases) {
      const response = await edge.read(`/api/movements?${query}`);
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { error: { code: string; details: { path: string; message: string }[] } };
      expect(body.error.code, query).toBe("VALIDATION_FAILED");
      expect(body.error.details[0]?.path, query).toBe(path);
      expect(body.error.details[0]?.message, query).toContain(message);
    }
  });
});
