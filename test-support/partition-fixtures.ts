// What the lead-partition suites (tests/partitions/) feed a deployment: its environment and events with ties in score
// and in time, so that merged reads must break ties as one partition's indexes do.
import { REDIS_URL, TEST_READ_TOKEN } from "./index.ts";

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
