import { describe, expect, it } from "vitest";
import {
  type LoadProfile,
  parseDuration,
  peakRate,
  profileDurationSeconds,
  rateAt,
  SCENARIOS,
  scheduledBy,
  withOverrides,
} from "../src/scenarios.ts";
import { eventsPerRequest, WORKLOADS } from "../src/workloads.ts";

const ramp: LoadProfile = {
  kind: "ramp",
  startRate: 0,
  stages: [
    { target: 100, durationSeconds: 10 },
    { target: 100, durationSeconds: 10 },
    { target: 0, durationSeconds: 10 },
  ],
};

describe("a load profile", () => {
  it("schedules rate × time at a constant rate, and nothing after the end", () => {
    const constant: LoadProfile = { kind: "constant", rate: 200, durationSeconds: 10 };
    expect(scheduledBy(constant, 2.5)).toBe(500);
    expect(scheduledBy(constant, 60)).toBe(2000);
    expect(rateAt(constant, 10)).toBe(0);
  });

  it("integrates a linear ramp exactly", () => {
    expect(scheduledBy(ramp, 10)).toBe(500);
    expect(scheduledBy(ramp, 20)).toBe(1500);
    expect(scheduledBy(ramp, 30)).toBe(2000);
    expect(rateAt(ramp, 5)).toBe(50);
    expect(profileDurationSeconds(ramp)).toBe(30);
  });

  it("scales a ramp to a new peak and length", () => {
    const scaled = withOverrides(ramp, { rate: 50, durationSeconds: 3 });
    expect(peakRate(scaled)).toBe(50);
    expect(profileDurationSeconds(scaled)).toBeCloseTo(3);
    expect(scheduledBy(scaled, 3)).toBeCloseTo(100);
  });
});

describe("the scenarios", () => {
  it("fit CI in their --ci variant: at most 200 requests/s and 10 s", () => {
    for (const scenario of Object.values(SCENARIOS)) {
      expect(peakRate(scenario.ci)).toBeLessThanOrEqual(200);
      expect(profileDurationSeconds(scenario.ci)).toBeLessThanOrEqual(10);
    }
  });

  it("send about 1.7 events per request in the mix (batches of 10 in 8% of requests)", () => {
    expect(eventsPerRequest(WORKLOADS.mix)).toBeCloseTo(0.92 + 0.8, 5);
    expect(eventsPerRequest(WORKLOADS.batch)).toBe(100);
  });
});

describe("a duration", () => {
  it("reads seconds, minutes and hours", () => {
    expect(parseDuration("90")).toBe(90);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("5m")).toBe(300);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("250ms")).toBe(0.25);
    expect(() => parseDuration("soon")).toThrow(/not a duration/);
    expect(() => parseDuration("5m later")).toThrow(/not a duration/);
  });
});
