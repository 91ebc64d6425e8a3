// What the lead-partition suites (tests/partitions/) feed a deployment: its environment and events with ties in score
// and in time, so that merged reads must break ties as one partition's indexes do.
import type { createEdgeRuntime } from "@leadscore/edge/runtime";
import { partitionPrefixes } from "@leadscore/runtime";
import { createTestRedis, eventually, REDIS_URL, TEST_READ_TOKEN } from "./index.ts";
import { post } from "./ingest.ts";

const TYPES = ["page_view", "email_open", "form_submission", "demo_request", "purchase"];

/** The environment of an edge and worker of one deployment (a Redis prefix, a database) on the suites' Redis. */
export function deploymentEnv(prefix: string, mongoUrl: string, more: Record<string, string> = {}) {
  return {
    NODE_ENV: "test",
    REDIS_URL,
    REDIS_PREFIX: prefix,
    MONGO_URL: mongoUrl,
    ADMIN_TOKEN: "test-admin-token",
    READ_TOKENS: TEST_READ_TOKEN,
    JOB_LOCK_MS: "2000",
    ...more,
  };
}

/** 1 to `most` events per lead from `t0` on, minutes apart, their types and times repeating across leads. */
export function tiedEvents(leads: readonly string[], t0: number, most: number) {
  return leads.flatMap((lead, i) =>
    Array.from({ length: 1 + (i % most) }, (_, k) => ({
      event_id: `${lead}-${k}`,
      lead_id: lead,
      event_type: TYPES[(i * 7 + k * 3) % TYPES.length] as string,
      timestamp: t0 + ((i * 13 + k) % 20) * 60_000,
    })),
  );
}

/**
 * Feeds a deployment's edge: a profile for each of `profiled` (`Person i`, its company the i-th of `companies` in
 * turn), then `events` in one batch; resolves once its worker has folded them all.
 */
export async function feedDeployment(
  edge: Awaited<ReturnType<typeof createEdgeRuntime>>,
  profiled: readonly string[],
  companies: readonly string[],
  events: readonly unknown[],
) {
  const headers = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  for (const [i, id] of profiled.entries()) {
    const body = { _id: id, name: `Person ${i}`, email: `p${i}@example.com`, company: companies[i % companies.length] };
    const created = await edge.app.request("/api/leads", { method: "POST", headers, body: JSON.stringify(body) });
    if (created.status !== 201) throw new Error(`lead ${id} not created: ${created.status}`);
  }
  const accepted = await edge.app.request("/api/batch", post({ events }));
  if (accepted.status !== 202) throw new Error(`events not accepted: ${accepted.status}`);
  await edge.flush();
  await eventually(async () => (await edge.deps.live.foldedEvents()) === events.length, 30_000);
}

/** Closes a deployment's edge (and worker, if still open), deletes its Redis keys and drops its database. */
export async function removeDeployment(each: {
  prefix: string;
  partitions: number;
  edge: { close(): Promise<void> };
  worker?: { close(): Promise<void> };
  database: { drop(): Promise<void> };
}) {
  await each.edge.close();
  await each.worker?.close();
  for (const prefix of new Set([each.prefix, ...partitionPrefixes(each.prefix, each.partitions)]))
    await (await createTestRedis(prefix)).cleanup();
  await each.database.drop();
}
