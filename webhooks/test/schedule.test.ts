import { describe, expect, it } from "vitest";
import { outcomeOf, signature } from "../src/dispatcher.ts";
import { type Delivery, deliveryBody } from "../src/model.ts";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const SCHEDULE = {
  retryDelaysMs: [5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, HOUR, 6 * HOUR],
  retryForMs: 24 * HOUR,
};

/** Every attempt of a receiver that never answers 2xx: when each falls, from the first at 0. */
function attemptTimes(): number[] {
  const times = [0];
  const delivery = { round_at: null as number | null, tries: 0 };
  for (;;) {
    const at = times.at(-1) as number;
    const { outcome, dueAt } = outcomeOf(500, delivery, at, SCHEDULE);
    if (outcome === "failed") return times;
    delivery.round_at ??= at;
    delivery.tries += 1;
    times.push(dueAt);
  }
}

describe("the retry schedule", () => {
  it("tries after 5 s, 30 s, 2 min, 10 min, 1 h, then every 6 h, the last at 24 h, then gives up", () => {
    const times = attemptTimes();
    const gaps = times.slice(1).map((at, i) => at - (times[i] as number));
    expect(gaps.slice(0, 5)).toEqual([5 * SECOND, 30 * SECOND, 2 * MINUTE, 10 * MINUTE, HOUR]);
    expect(gaps.slice(5, -1).every((gap) => gap === 6 * HOUR)).toBe(true);
    expect(times.at(-1)).toBe(24 * HOUR);
  });

  it("delivers on any 2xx and disables on 410", () => {
    expect(outcomeOf(204, { round_at: null, tries: 0 }, 0, SCHEDULE).outcome).toBe("delivered");
    expect(outcomeOf(410, { round_at: null, tries: 0 }, 0, SCHEDULE)).toEqual({ outcome: "gone", dueAt: 5 * SECOND });
    expect(outcomeOf(null, { round_at: null, tries: 0 }, 0, SCHEDULE).outcome).toBe("retry");
    expect(outcomeOf(301, { round_at: null, tries: 0 }, 0, SCHEDULE).outcome).toBe("retry");
  });
});

describe("a delivery's body", () => {
  const delivery: Delivery = {
    id: "1",
    msg: "msg_1-0",
    type: "lead.stage_changed",
    lead: "ada",
    from: "warm",
    to: "cold",
    score: "80",
    prev: "120",
    event: "e-9",
    etype: "unsubscribe",
    rank: "7",
    at: Date.parse("2026-11-30T01:40:00.000Z"),
    status: "pending",
    created_at: 0,
    round_at: null,
    tries: 0,
    next_at: null,
    attempts: [],
  };

  it("is the Standard Webhooks shape with the change in data", () => {
    expect(JSON.parse(deliveryBody(delivery))).toEqual({
      type: "lead.stage_changed",
      timestamp: "2026-11-30T01:40:00.000Z",
      data: {
        lead_id: "ada",
        from_stage: "warm",
        to_stage: "cold",
        score: 80,
        previous_score: 120,
        event_id: "e-9",
        event_type: "unsubscribe",
        cause: "event",
        rank: 7,
      },
    });
  });

  it("names a re-score as the cause of a stage change a retroactive publish made", () => {
    const rescored = { ...delivery, event: "rescore:4", etype: "rescore" };
    expect(JSON.parse(deliveryBody(rescored)).data).toMatchObject({
      event_id: "rescore:4",
      event_type: "rescore",
      cause: "rescore",
    });
  });

  it("is signed over id, timestamp and body with the secret's bytes", () => {
    // The example of the Standard Webhooks specification.
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const body = '{"test": 2432232314}';
    expect(signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)).toBe(
      "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    );
  });
});
