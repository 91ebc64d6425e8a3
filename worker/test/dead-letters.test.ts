import { COLLECTIONS, type DeadLetterDocument, type EventDocument } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditAll,
  createStack,
  historyOf,
  leadOf,
  queued,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await createStack({ env: { METRICS_PORT: "0" } });
  await stack.startWorker({ rulesReloadMs: 3_600_000 });
});

afterAll(async () => {
  await stack?.close();
});

const deadLetterCount = async () => {
  const response = await fetch(`http://127.0.0.1:${stack.workers[0]?.metricsPort}/metrics`);
  const text = await response.text();
  return Number(text.match(/^leadscore_worker_dead_letters_total (\d+)$/m)?.[1] ?? Number.NaN);
};

describe("when the store refuses one event of a job", () => {
  it("stores and scores every other event, and moves the refused ones to dead letters with the reason", async () => {
    const before = await deadLetterCount();
    expect(Number.isInteger(before)).toBe(true);
    const job = await stack.queue.add(
      {
        v: 1,
        events: [
          queued("dl-a", "dl-honest-1", "page_view", T0),
          // FerretDB cannot store nested arrays; the driver refuses a NUL in a key on every backend.
          queued("dl-b", "dl-nested", "purchase", T0, { m: [[1]] }),
          queued("dl-b", "dl-honest-2", "page_view", T0 + 1),
          queued("dl-c", "dl-nul-key", "purchase", T0, { "a\u0000b": 1 }),
          queued("dl-c", "dl-honest-3", "email_open", T0 + 1),
        ],
      },
      { attempts: 5 },
    );
    await stack.drained();

    const finished = await stack.queue.getJob(job.id);
    expect(await finished?.isCompleted()).toBe(true);
    expect(finished?.attemptsMade).toBe(0);
    expect((await leadOf(stack, "dl-a"))?.current_score).toBe(5);
    expect((await historyOf(stack, "dl-b")).map((entry) => entry.event_id)).toEqual(["dl-honest-2"]);
    expect((await historyOf(stack, "dl-c")).map((entry) => entry.event_id)).toEqual(["dl-honest-3"]);
    expect((await leadOf(stack, "dl-c"))?.current_score).toBe(10);

    const stored = await stack.db
      .collection<EventDocument>(COLLECTIONS.events)
      .find({ _id: { $in: ["dl-nested", "dl-nul-key"] } })
      .toArray();
    expect(stored).toEqual([]);
    const letters = await stack.db
      .collection<DeadLetterDocument>(COLLECTIONS.deadLetters)
      .find({ _id: { $in: ["dl-nested", "dl-nul-key"] } }, { sort: { _id: 1 } })
      .toArray();
    expect(letters.map((letter) => [letter._id, letter.lead_id, letter.event_type])).toEqual([
      ["dl-nested", "dl-b", "purchase"],
      ["dl-nul-key", "dl-c", "purchase"],
    ]);
    expect(letters[0]?.reason).toMatch(/nested arrays/);
    expect(letters[1]?.reason).toMatch(/null bytes/);
    expect(JSON.parse(letters[0]?.event ?? "null")).toMatchObject({ event_id: "dl-nested", metadata: { m: [[1]] } });
    expect(JSON.parse(letters[1]?.event ?? "null")).toMatchObject({ metadata: { "a\u0000b": 1 } });
    expect(await deadLetterCount()).toBe(before + 2);
    expect(await auditAll(stack)).toEqual([]);
  });

  it("keeps one dead letter per event when the same poison event is queued again", async () => {
    const before = await deadLetterCount();
    const poison = queued("dl-d", "dl-again", "page_view", T0, { m: [[2]] });
    await stack.send([poison, queued("dl-d", "dl-honest-4", "page_view", T0 + 1)]);
    await stack.drained();
    await stack.send([poison]);
    await stack.drained();

    const letters = await stack.db
      .collection<DeadLetterDocument>(COLLECTIONS.deadLetters)
      .find({ _id: "dl-again" })
      .toArray();
    expect(letters).toHaveLength(1);
    expect(await deadLetterCount()).toBe(before + 1);
    expect((await historyOf(stack, "dl-d")).map((entry) => entry.event_id)).toEqual(["dl-honest-4"]);
  });
});
