// Builds a complete k6 script (options, setup, iteration) for one shared scenario, with the run's size taken
// from the environment: BASE_URL, WRITE_KEY, RATE, DURATION, MAX_VUS, PRE_ALLOCATED_VUS, CI, RUN_ID.
import type { Options } from "k6/options";
import { createRunId } from "../src/payloads.ts";
import {
  isScenarioName,
  parseDuration,
  profileDurationSeconds,
  SCENARIO_NAMES,
  SCENARIOS,
  scheduledBy,
  withOverrides,
} from "../src/scenarios.ts";
import { createIngestClient } from "./clients/ingest-client.ts";
import { toK6Scenario } from "./scenarios/executors.ts";
import { thresholdsFor } from "./scenarios/thresholds.ts";
import { type RunData, runIngestIteration } from "./workloads/ingest.ts";

function envNumber(name: string): number | undefined {
  const raw = __ENV[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got "${raw}")`);
  return value;
}

export function createScript(scenarioName: string) {
  if (!isScenarioName(scenarioName)) {
    throw new Error(`WORKLOAD must be one of ${SCENARIO_NAMES.join(", ")} (got "${scenarioName}")`);
  }
  const scenario = SCENARIOS[scenarioName];
  const baseUrl = __ENV.BASE_URL || "http://localhost:8080";
  const writeKey = __ENV.WRITE_KEY || "dev-write-key";
  const durationText = __ENV.DURATION;
  const profile = withOverrides(__ENV.CI ? scenario.ci : scenario.profile, {
    rate: envNumber("RATE"),
    durationSeconds: durationText ? parseDuration(durationText) : undefined,
  });
  const maxVUs = envNumber("MAX_VUS") ?? scenario.maxInFlight;
  const preAllocatedVUs = envNumber("PRE_ALLOCATED_VUS") ?? Math.min(maxVUs, 50);
  const scheduled = scheduledBy(profile, profileDurationSeconds(profile));
  const client = createIngestClient(baseUrl);

  const options: Options = {
    scenarios: {
      [scenario.name]: toK6Scenario(profile, {
        exec: "ingest",
        maxVUs,
        preAllocatedVUs,
        tags: { workload: scenario.workload.name },
      }),
    },
    thresholds: thresholdsFor(scenario.targets, scheduled),
    summaryTrendStats: ["avg", "med", "p(90)", "p(99)", "max"],
  };

  return {
    options,
    /** One run id for every VU, so hot leads are shared and the run's data can be found afterwards. */
    setup(): RunData {
      return { runId: __ENV.RUN_ID || createRunId(Date.now(), Math.random) };
    },
    ingest(data: RunData): void {
      runIngestIteration(scenario.workload, client, writeKey, data);
    },
  };
}
