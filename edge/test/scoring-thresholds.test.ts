// The dashboard decays scores between reads and stages them itself: it must stage them by the deployment's
// thresholds, which `GET /api/scoring` gives it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";

let edge: Awaited<ReturnType<typeof createTestEdge>>;

beforeAll(async () => {
  edge = await createTestEdge({ STAGE_THRESHOLDS: "50,200,400" });
});

afterAll(async () => {
  await edge?.close();
});

describe("the scoring settings read", () => {
  it("give the stage thresholds in force with the half-life", async () => {
    const response = await edge.read("/api/scoring");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ half_life_seconds: null, stage_thresholds: [50, 200, 400] });
  });

  it("take a read sent back, and refuse other thresholds naming the variable that sets them", async () => {
    const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
    const put = (body: object) =>
      edge.app.request("/api/scoring", { method: "PUT", headers: admin, body: JSON.stringify(body) });
    const read = await (await edge.read("/api/scoring")).json();
    expect((await put(read)).status).toBe(200);
    const other = await put({ half_life_seconds: null, stage_thresholds: [100, 300, 600] });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({
      error: { code: "VALIDATION_FAILED", details: [{ path: "stage_thresholds" }] },
    });
  });
});
