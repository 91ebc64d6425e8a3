import { COLLECTIONS, type HistoryDocument, type LeadDocument, sortKey, stageFor } from "@leadscore/contracts";
import type { Db } from "mongodb";

const BASE = Date.parse("2026-01-01T00:00:00.000Z");

/** A lead as the worker writes it after scoring events. */
export function scoredLead(id: string, score: number, overrides: Partial<LeadDocument> = {}): LeadDocument {
  return {
    _id: id,
    name: `Lead ${id}`,
    email: `${id}@example.com`,
    company: "Acme",
    current_score: score,
    stage: stageFor(score),
    event_count: 1,
    last_event_at: new Date(BASE),
    score_reached_at: new Date(BASE),
    last_sort_key: sortKey(BASE, `e-${id}`),
    version: 3,
    created_at: new Date(BASE),
    updated_at: new Date(BASE),
    ...overrides,
  };
}

/** A lead created through the API only: profile fields, no score fields yet. */
export function profileOnlyLead(id: string, updatedAt = new Date(BASE)) {
  return {
    _id: id,
    name: `Profile ${id}`,
    email: `${id}@example.com`,
    company: "Acme",
    created_at: updatedAt,
    updated_at: updatedAt,
  };
}

/** `count` history entries of one lead, one minute apart, as the worker writes them. */
export function historyFor(leadId: string, count: number): HistoryDocument[] {
  let score = 0;
  return Array.from({ length: count }, (_, i) => {
    const timestamp = new Date(BASE + i * 60_000);
    const eventId = `${leadId}-e${String(i).padStart(4, "0")}`;
    score += 5;
    return {
      _id: eventId,
      event_id: eventId,
      lead_id: leadId,
      event_type: "page_view",
      timestamp,
      received_at: timestamp,
      points: 5,
      delta: 5,
      score,
      reason: "page_view +5",
      rule_id: "page_view",
      sort_key: sortKey(timestamp.getTime(), eventId),
      late: false,
    };
  });
}

export async function insertLeads(db: Db, docs: object[]): Promise<void> {
  if (docs.length > 0) await db.collection<LeadDocument>(COLLECTIONS.leads).insertMany(docs as LeadDocument[]);
}

export async function insertHistory(db: Db, docs: HistoryDocument[]): Promise<void> {
  if (docs.length > 0) await db.collection<HistoryDocument>(COLLECTIONS.history).insertMany(docs);
}

/** The `Link: <…>; rel="next"` target of a response, or null. */
export function nextLink(response: Response): string | null {
  return response.headers.get("link")?.match(/^<([^>]+)>; rel="next"$/)?.[1] ?? null;
}

export const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
