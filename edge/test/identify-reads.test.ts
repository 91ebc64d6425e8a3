// After a merge, through the edge and a worker on real Redis and the MongoDB-compatible store: every per-lead read of
// a merged id answers its root, an admin merge's leftovers (the merged-from list, the search texts), and an identify
// of two ids that have no events yet.
import { COLLECTIONS, type IdentityDocument } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import type { Worker } from "@leadscore/worker";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { type Edge, KEY, MINUTE, startStack, T0 } from "./identify-fixtures.ts";

const send = (edge: Edge, path: string, body: unknown, auth: Record<string, string> = { "x-write-key": KEY }) =>
  edge.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify(body),
  });
const admin = { authorization: "Bearer test-admin-token" };

const view = (lead_id: string, event_id: string, minutes: number) => ({
  lead_id,
  event_id,
  event_type: "page_view",
  timestamp: T0 + minutes * MINUTE,
});

async function readJson<T>(edge: Edge, path: string): Promise<{ status: number; body: T; location: string | null }> {
  const response = await edge.read(path);
  return {
    status: response.status,
    body: (await response.json()) as T,
    location: response.headers.get("content-location"),
  };
}

async function countOf(edge: Edge, id: string, count: number) {
  return eventually(async () => {
    const { body } = await readJson<{ _id?: string; event_count?: number }>(edge, `/api/leads/${id}`);
    return body.event_count === count && body;
  });
}

describe("after an anonymous lead is merged", () => {
  let stack: { edge: Edge; worker: Worker } | undefined;
  afterEach(async () => {
    await stack?.worker.close();
    await stack?.edge.close();
    stack = undefined;
  });

  it("answers every per-lead read of the merged id with the lead it became, naming it in Content-Location", async () => {
    stack = await startStack();
    const { edge } = stack;
    const events = [view("anon-r", "pv1", 1), view("anon-r", "pv2", 2)];
    expect((await send(edge, "/api/batch", { events })).status).toBe(202);
    await countOf(edge, "anon-r", 2);
    expect((await send(edge, "/api/identify", { anonymous_id: "anon-r", lead_id: "rita" })).status).toBe(202);
    const form = { lead_id: "rita", event_type: "form_submission", event_id: "f1", timestamp: T0 + 3 * MINUTE };
    expect((await send(edge, "/api/events", form)).status).toBe(202);
    await countOf(edge, "rita", 3);
    // The merged-from list and the merge log are written just after the commit that folds the anonymous lead in.
    await eventually(async () => (await readJson<{ merged_from?: [] }>(edge, "/api/leads/rita")).body.merged_from);

    const lead = await readJson<{ _id: string }>(edge, "/api/leads/anon-r");
    expect(lead).toMatchObject({ status: 200, body: { _id: "rita" }, location: "/api/leads/rita" });
    expect((await readJson(edge, "/api/leads/rita")).location).toBeNull();

    const own = await readJson<unknown[]>(edge, "/api/leads/rita/history?order=asc");
    const history = await readJson<{ event_id: string; lead_id: string }[]>(
      edge,
      "/api/leads/anon-r/history?order=asc",
    );
    expect(history.status).toBe(200);
    expect(history.body).toEqual(own.body);
    expect(history.body.map((entry) => [entry.event_id, entry.lead_id])).toEqual([
      ["pv1", "rita"],
      ["pv2", "rita"],
      ["f1", "rita"],
      ["merge:anon-r", "rita"],
    ]);
    expect(history.location).toBe("/api/leads/rita/history?order=asc");

    const series = await readJson(edge, "/api/leads/anon-r/series?buckets=10");
    expect(series).toMatchObject({ status: 200, location: "/api/leads/rita/series?buckets=10" });
    expect(series.body).toEqual((await readJson(edge, "/api/leads/rita/series?buckets=10")).body);

    const breakdown = await readJson<{ lead_id: string; score: number }>(edge, "/api/leads/anon-r/breakdown");
    expect(breakdown).toMatchObject({ status: 200, location: "/api/leads/rita/breakdown" });
    expect(breakdown.body).toMatchObject({ lead_id: "rita", score: 30 });

    // An event stored under the anonymous id opens from the history of the lead it now belongs to, and from its own.
    for (const id of ["rita", "anon-r"]) {
      const event = await readJson<{ event_id: string; lead_id: string }>(edge, `/api/leads/${id}/events/pv1`);
      expect(event).toMatchObject({ status: 200, body: { event_id: "pv1", lead_id: "anon-r" } });
    }
    expect((await readJson(edge, "/api/leads/someone-else/events/pv1")).status).toBe(404);
    // An id nobody merged is still unknown.
    for (const path of ["history", "series", "breakdown"]) {
      expect((await readJson(edge, `/api/leads/nobody/${path}`)).status).toBe(404);
    }
  });

  it("lists an admin-merged lead with its events in the merged-from list, and drops it from searches", async () => {
    stack = await startStack();
    const { edge } = stack;
    const profile = (id: string, name: string, company: string) =>
      send(edge, "/api/leads", { _id: id, name, email: `${id}@example.com`, company }, admin);
    expect((await profile("grace", "Grace Hopper", "Navy")).status).toBe(201);
    expect((await profile("gh", "G. Hopper", "Remington")).status).toBe(201);
    const events = [view("grace", "g1", 1), view("gh", "h1", 2), view("gh", "h2", 3), view("anon-g", "a1", 4)];
    expect((await send(edge, "/api/batch", { events })).status).toBe(202);
    await countOf(edge, "anon-g", 1);
    await countOf(edge, "gh", 2);
    // anon-g is identified as gh, then gh (a known lead) is merged into grace by an admin.
    expect((await send(edge, "/api/identify", { anonymous_id: "anon-g", lead_id: "gh" })).status).toBe(202);
    await countOf(edge, "gh", 3);
    const merged = await send(edge, "/api/leads/grace/merge", { from: "gh", reason: "same person" }, admin);
    expect(merged.status).toBe(202);
    // The merged-from list is written just after the commit that removes the merged lead.
    const grace = await eventually(async () => {
      const { body } = await readJson<{ event_count: number; merged_from?: unknown[] }>(edge, "/api/leads/grace");
      return body.event_count === 4 && body.merged_from?.length === 2 && body;
    });
    // Each id with the events stored under it, as a rebuild lays the list out from the recorded merges.
    expect(grace).toMatchObject({ _id: "grace", name: "Grace Hopper", company: "Navy" });
    expect((grace as { merged_from: unknown[] }).merged_from).toEqual(
      expect.arrayContaining([
        { id: "gh", events: 2 },
        { id: "anon-g", events: 1 },
      ]),
    );
    expect((grace as { merged_from: unknown[] }).merged_from).toHaveLength(2);
    // Both merges are audited in MongoDB's identities, the admin's with its reason.
    const identities = edge.deps.db.collection<IdentityDocument>(COLLECTIONS.identities);
    expect(await identities.findOne({ _id: "gh" })).toMatchObject({
      into: "grace",
      kind: "admin",
      reason: "same person",
    });
    expect(await identities.findOne({ _id: "anon-g" })).toMatchObject({ into: "gh", kind: "identify", reason: null });
    // And each is an entry of the history: anon-g's carried over from gh, gh's bringing its own events and anon-g's.
    const history = (
      await readJson<{ event_id: string; merge?: { events: number } }[]>(edge, "/api/leads/grace/history")
    ).body as { event_id: string; merge?: { events: number } }[];
    expect(history.filter((entry) => entry.merge).map((entry) => [entry.event_id, entry.merge?.events])).toEqual([
      ["merge:gh", 3],
      ["merge:anon-g", 1],
    ]);
    expect((await readJson(edge, "/api/leads/gh")).body).toMatchObject({ _id: "grace" });
    // The merged id cannot be created again beside its root (its profile is still stored).
    const again = await profile("gh", "G. Hopper", "Remington");
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { message: string } }).error.message).toBe(
      "lead gh was merged into grace",
    );
    expect((await readJson<{ _id: string }[]>(edge, "/api/leads?limit=200")).body.map((l) => l._id)).toEqual(["grace"]);

    // The merged lead's search text is gone; the root is found by its own profile.
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(edge.deps.config.REDIS_PREFIX);
      expect(await redis.hexists(keys.searchTexts, "gh")).toBe(0);
      expect(await redis.hexists(keys.mergedFrom("gh"), "anon-g")).toBe(0);
    } finally {
      redis.disconnect();
    }
    const ids = async (query: string) =>
      ((await readJson<{ _id: string }[]>(edge, `/api/leads?${query}`)).body as { _id: string }[]).map((l) => l._id);
    expect(await ids("company=remington")).toEqual([]);
    expect(await ids("q=hopper")).toEqual(["grace"]);
    expect(await ids("q=navy")).toEqual(["grace"]);
  });

  it("makes no empty lead of an identify between two ids without events, and scores the next event on the root", async () => {
    stack = await startStack();
    const { edge } = stack;
    expect((await send(edge, "/api/identify", { anonymous_id: "anon-e", lead_id: "eve" })).status).toBe(202);
    expect((await send(edge, "/api/events", view("other", "o1", 1))).status).toBe(202);
    await countOf(edge, "other", 1);
    // The merge has passed the deep lane once the root's merged-from list names the anonymous id.
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(edge.deps.config.REDIS_PREFIX);
      await eventually(async () => (await redis.hget(keys.mergedFrom("eve"), "anon-e")) === "0");
      expect(await redis.hlen(keys.deep)).toBe(0);
    } finally {
      redis.disconnect();
    }
    const list = await readJson<{ _id: string }[]>(edge, "/api/leads?limit=200");
    expect(list.body.map((lead) => lead._id)).toEqual(["other"]);
    expect((await readJson(edge, "/api/stats")).body).toMatchObject({ leads: 1 });
    expect((await readJson(edge, "/api/leads/eve")).status).toBe(404);
    expect((await readJson(edge, "/api/leads/anon-e")).status).toBe(404);
    expect((await send(edge, "/api/identify", { anonymous_id: "anon-e", lead_id: "eve" })).status).toBe(200);

    expect((await send(edge, "/api/events", view("anon-e", "e1", 2))).status).toBe(202);
    const eve = await countOf(edge, "anon-e", 1);
    expect(eve).toMatchObject({ _id: "eve", current_score: 5 });
    expect((await send(edge, "/api/events", view("eve", "e2", 3))).status).toBe(202);
    expect(await countOf(edge, "eve", 2)).toMatchObject({ _id: "eve", current_score: 10 });
    const after = await readJson<{ _id: string }[]>(edge, "/api/leads?limit=200");
    expect(after.body.map((lead) => lead._id).sort()).toEqual(["eve", "other"]);
  });
});
