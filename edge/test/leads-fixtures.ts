import type { ScorableEvent } from "@leadscore/contracts";
import type { createTestEdge } from "../../test-support/edge.ts";
import { createLiveSeeder, eventsOf, type LeadSeed, type LiveSeeder } from "../../test-support/live.ts";

export const BASE = Date.parse("2026-01-01T00:00:00.000Z");

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

/** A seeder writing into a test edge's Redis prefix and database, as the API and the worker would. */
export function seederFor(edge: Edge): LiveSeeder {
  return createLiveSeeder({
    redis: edge.redis,
    db: edge.deps.db,
    redisPrefix: edge.deps.config.REDIS_PREFIX,
    cap: edge.deps.config.SCORE_CAP,
    thresholds: edge.deps.config.STAGE_THRESHOLDS,
  });
}

/** A lead with a profile and one scored event of `score` points at `at` (so it reached its score then). */
export function scoredLead(
  id: string,
  score: number,
  options: { profile?: Partial<LeadSeed["profile"]> | null; at?: number; updatedAt?: number } = {},
): LeadSeed {
  const at = options.at ?? BASE;
  const profile =
    options.profile === null
      ? undefined
      : { name: `Lead ${id}`, email: `${id}@example.com`, company: "Acme", ...options.profile };
  return {
    id,
    profile: profile as LeadSeed["profile"],
    events: eventsOf(id, [score], at),
    createdAt: BASE,
    updatedAt: options.updatedAt ?? at,
  };
}

/** A lead created through the API only: a profile, no events. */
export function profileOnlyLead(id: string, at = BASE): LeadSeed {
  return { id, profile: { name: `Profile ${id}`, email: `${id}@example.com`, company: "Acme" }, createdAt: at };
}

/** `count` page_view events of one lead (+5 each), one minute apart. */
export function historyEvents(leadId: string, count: number): ScorableEvent[] {
  return eventsOf(
    leadId,
    Array.from({ length: count }, () => 5),
    BASE,
  ).map((event) => ({
    ...event,
    event_type: "page_view",
    rule_id: "page_view",
  }));
}

/** The `Link: <…>; rel="next"` target of a response, or null. */
export function nextLink(response: Response): string | null {
  return response.headers.get("link")?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
}

export const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
