// Rule-set previews over lead partitions answer as one partition does: two deployments, one with LEAD_PARTITIONS=1
// and one with 6, each its own Redis prefix and database, are fed the same profiles and events, then preview the
// same drafts — one folded from the live state, one that reads metadata and profiles from the stored events.
import { parseConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { silentLogger } from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, eventually, testEdgeConfig, uniqueName } from "../../test-support/index.ts";
import { deploymentEnv, feedDeployment, removeDeployment, tiedEvents } from "../../test-support/partition-fixtures.ts";

const P = 6;
const COMPANIES = ["Acme", "Globex", "Initech"];
const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
const T0 = Date.now() - 3_600_000;
const leads = Array.from({ length: 60 }, (_, i) => `lead-${String(i).padStart(3, "0")}`);
const profiled = leads.slice(0, 45);
const events = tiedEvents(leads, T0, 5).map((event, i) => ({
  ...event,
  metadata: { channel: i % 3 === 0 ? "ads" : "web" },
}));

interface Deployment {
  prefix: string;
  partitions: number;
  database: Awaited<ReturnType<typeof createTestDb>>;
  edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  worker: Worker;
}

async function deploy(partitions: number): Promise<Deployment> {
  const prefix = uniqueName(`previews-${partitions}`);
  const database = await createTestDb();
  const env = deploymentEnv(prefix, database.url, { LEAD_PARTITIONS: String(partitions) });
  const worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, {
    summaryEveryMs: 0,
    previewPollMs: 50,
  });
  await worker.start();
  const edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
  await feedDeployment(edge, profiled, COMPANIES, events);
  return { prefix, partitions, database, edge, worker };
}

type Rule = { event_type: string; points: number; where?: unknown };

/** Previews the draft `edit` makes of the rules in force; the preview's progress and result once done. */
async function preview({ edge }: Deployment, edit: (rules: Rule[]) => Rule[]) {
  const call = (method: string, path: string, body?: unknown) =>
    edge.app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) });
  await call("DELETE", "/api/rule-sets/draft");
  expect((await call("POST", "/api/rule-sets/draft")).status).toBe(201);
  const draft = (await (await call("GET", "/api/rule-sets/draft")).json()) as { rules: Rule[] };
  expect((await call("PUT", "/api/rule-sets/draft", { rules: edit(draft.rules), groups: [] })).status).toBe(200);
  const started = await call("POST", "/api/rule-sets/draft/preview");
  expect(started.status).toBe(202);
  const { id } = (await started.json()) as { id: string };
  type Preview = { state: string; progress: Record<string, unknown>; result?: unknown };
  const done = await eventually(async () => {
    const read = (await (await call("GET", `/api/rule-sets/previews/${id}`)).json()) as Preview;
    return read.state !== "queued" && read.state !== "running" && read;
  }, 60_000);
  expect(done.state, JSON.stringify(done)).toBe("done");
  const { events_total, events_read, events_done, leads_done } = done.progress;
  return { progress: { events_total, events_read, events_done, leads_done }, result: done.result };
}

describe("a preview when one partition and six are fed the same profiles and events", () => {
  let one: Deployment;
  let six: Deployment;

  beforeAll(async () => {
    [one, six] = await Promise.all([deploy(1), deploy(P)]);
  }, 120_000);

  afterAll(async () => {
    for (const each of [one, six]) {
      if (each) await removeDeployment(each);
    }
  });

  /** Both deployments' previews of one draft, expected alike and over every lead and event. */
  async function same(edit: (rules: Rule[]) => Rule[]) {
    const a = await preview(one, edit);
    const b = await preview(six, edit);
    expect(b).toEqual(a);
    expect(a.progress).toEqual({
      events_total: events.length,
      events_read: events.length,
      events_done: events.length,
      leads_done: leads.length,
    });
    const result = a.result as { leads: number; events: number; changed: number; webhooks: number };
    expect(result.leads).toBe(leads.length);
    expect(result.events).toBe(events.length);
    return result;
  }

  it("folds every partition's live state for a draft that reads no metadata", async () => {
    const result = await same((rules) =>
      rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 300 } : rule)),
    );
    expect(result.changed).toBeGreaterThan(0);
    expect(result.webhooks).toBeGreaterThan(0);
  });

  it("reads every stored event, and each lead's profile in its partition, for a draft that reads them", async () => {
    const result = await same((rules) =>
      rules.map((rule) =>
        rule.event_type === "page_view"
          ? { ...rule, points: 250, where: { field: "metadata.channel", op: "eq", value: "ads" } }
          : rule.event_type === "email_open"
            ? { ...rule, points: 200, where: { field: "lead.company", op: "eq", value: "Acme" } }
            : rule,
      ),
    );
    expect(result.changed).toBeGreaterThan(0);
  });
});
