// A lead's history older than its tail in Redis is read from its settled pages in MongoDB, one `_id` equality per
// page: the only filter the embedded store serves from its `_id` index (an `$in` there decodes every stored page).
import { COLLECTIONS } from "@leadscore/contracts";
import { createApp } from "@leadscore/edge";
import { type CommandStartedEvent, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { withReadToken } from "../../test-support/index.ts";
import { historyEvents, seederFor } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

describe("when a history page reaches past the lead's tail", () => {
  let edge: Edge;
  let client: MongoClient;
  let app: ReturnType<typeof createApp>;
  const pageFinds: unknown[] = [];
  const events = historyEvents("deep", 260);

  beforeAll(async () => {
    edge = await createTestEdge();
    await seederFor(edge).seed([{ id: "deep", events }]);
    // The same edge, on a client that reports the commands it sends.
    client = new MongoClient(edge.deps.config.MONGO_URL, { monitorCommands: true });
    await client.connect();
    client.on("commandStarted", (event: CommandStartedEvent) => {
      if (event.commandName === "find" && event.command.find === COLLECTIONS.historyPages) {
        pageFinds.push(event.command.filter);
      }
    });
    app = createApp({ ...edge.deps, db: client.db(edge.deps.db.databaseName) });
  });
  afterAll(async () => {
    await client?.close();
    await edge?.close();
  });

  it("reads each settled page it needs by its own `_id`, and lists their entries in order", async () => {
    const response = await app.request("/api/leads/deep/history?order=asc&limit=200", withReadToken());
    expect(response.status).toBe(200);
    const body = (await response.json()) as { event_id: string }[];
    expect(body.map((entry) => entry.event_id)).toEqual(events.slice(0, 200).map((event) => event.event_id));
    // 200 entries from pages of about 50: several pages, each its own lookup.
    expect(pageFinds.length).toBeGreaterThanOrEqual(3);
    for (const filter of pageFinds) expect(filter).toEqual({ _id: expect.stringMatching(/^deep/) });
  });
});
