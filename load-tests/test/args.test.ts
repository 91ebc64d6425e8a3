import { describe, expect, it } from "vitest";
import { parseArgs, UsageError } from "../harness/args.ts";

describe("the load command line", () => {
  it("reads a scenario with its options", () => {
    expect(
      parseArgs(["mix", "--rate", "500", "--duration=2m", "--base-url", "http://127.0.0.1:8080", "--ci", "--quiet"]),
    ).toMatchObject({
      scenario: "mix",
      rate: 500,
      durationSeconds: 120,
      baseUrl: "http://127.0.0.1:8080",
      ci: true,
      progress: false,
      audit: true,
      writeKey: "dev-write-key",
    });
  });

  it("accepts --workers 0 for ingestion alone, but not a fraction", () => {
    expect(parseArgs(["single", "--workers", "0"]).workers).toBe(0);
    expect(() => parseArgs(["single", "--workers", "1.5"])).toThrow(/whole number/);
  });

  it("spreads the events over the leads asked for, or the workload's own number", () => {
    expect(parseArgs(["mix", "--leads", "100000"]).leads).toBe(100_000);
    expect(parseArgs(["mix"]).leads).toBeUndefined();
    expect(() => parseArgs(["mix", "--leads", "0"])).toThrow(/positive number/);
  });

  it("takes the write key from the environment", () => {
    expect(parseArgs(["single"], { WRITE_KEY: "k1" }).writeKey).toBe("k1");
  });

  it("takes the metrics token from the environment or the command line, and none by default", () => {
    expect(parseArgs(["single"]).metricsToken).toBeUndefined();
    expect(parseArgs(["single"], { METRICS_TOKEN: "m1" }).metricsToken).toBe("m1");
    expect(parseArgs(["single", "--metrics-token", "m2"], { METRICS_TOKEN: "m1" }).metricsToken).toBe("m2");
    expect(() => parseArgs(["single", "--metrics-token="])).toThrow(/needs a token/);
  });

  it("refuses an unknown scenario, an unknown option and a bad number", () => {
    expect(() => parseArgs(["nope"])).toThrow(UsageError);
    expect(() => parseArgs(["mix", "--fast"])).toThrow(/unknown option --fast/);
    expect(() => parseArgs(["mix", "--rate", "-3"])).toThrow(/positive number/);
    expect(() => parseArgs([])).toThrow(/which scenario/);
  });
});
