import { describe, expect, it } from "vitest";
import { eventually } from "../../test-support/index.ts";
import { createOpenLoop } from "../harness/open-loop.ts";

/** A clock that only moves when the loop sleeps, so the schedule is exact and the test instant. */
function fakeTime() {
  let now = 0;
  return {
    clock: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe("the open-loop driver", () => {
  it("starts every scheduled request when the server keeps up", async () => {
    const time = fakeTime();
    let fired = 0;
    const loop = createOpenLoop({
      profile: { kind: "constant", rate: 200, durationSeconds: 2 },
      maxInFlight: 10,
      fire: async () => {
        fired += 1;
      },
      ...time,
    });
    expect(await loop.run()).toMatchObject({ scheduled: 400, started: 400, dropped: 0 });
    expect(fired).toBe(400);
  });

  it("keeps the schedule when requests hang, dropping those over the in-flight limit", async () => {
    const time = fakeTime();
    const hanging: (() => void)[] = [];
    const loop = createOpenLoop({
      profile: { kind: "constant", rate: 100, durationSeconds: 1 },
      maxInFlight: 5,
      fire: () => new Promise<void>((resolve) => hanging.push(resolve)),
      ...time,
    });
    const done = loop.run();
    await eventually(async () => hanging.length === 5);
    expect(loop.inFlight).toBe(5);
    for (const release of hanging) release();
    expect(await done).toMatchObject({ scheduled: 100, started: 5, dropped: 95 });
  });
});
