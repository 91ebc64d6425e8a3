// Typed client of the edge's HTTP API. Types come from the shared contracts as type-only imports, so the bundle
// carries none of the server's validation code.
import type {
  CandidateLimit,
  Condition,
  ErrorBody,
  ErrorCode,
  LeaderboardEntry,
  LimitPeriod,
  RuleOutcome,
  Stage,
} from "@leadscore/contracts";

/** A lead as the API returns it (its `Lead` schema); dates are ISO-8601 strings. */
export interface Lead {
  _id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  current_score: number;
  stage: Stage;
  event_count: number;
  last_event_at: string | null;
  score_reached_at?: string | null;
  created_at?: string;
  updated_at: string;
}

/** One lead as `GET /api/leads/:id` returns it: with its leaderboard position, `rank` of `rank_of`. */
export interface RankedLead extends Lead {
  rank: number | null;
  rank_of: number;
  /** Ids merged into this lead (an identify, an admin merge), with how many events each brought; absent when none. */
  merged_from?: { id: string; events: number }[];
}

/** One entry of a lead's history as the API returns it. */
export interface HistoryItem {
  event_id: string;
  lead_id: string;
  event_type: string;
  timestamp: string;
  received_at: string;
  points: number;
  delta: number;
  score: number;
  reason: string;
  late: boolean;
  rule_id?: string | null;
  /** Scoring model v2: each matched rule's points asked and given, and why any were cut. */
  rules?: RuleOutcome[];
  rules_version?: number | null;
  /**
   * `decay`: a stage crossing caused by time (no event; its id repeats for each crossing into the same stage);
   * `merge`: another lead merged into this one (no event); `rescore`: a retroactive publish moved the lead (no event).
   */
  cause?: "event" | "decay" | "merge" | "rescore";
  /** On a merge entry: the id merged in, what it brought and the lead's scores either side of the merge. */
  merge?: MergeOutcome;
  /** On a re-score entry: the versions from and to, and the lead's score and stage either side. */
  rescore?: RescoreOutcome;
}

export interface RescoreOutcome {
  from_version: number | null;
  to_version: number;
  score_before: number;
  score_after: number;
  delta: number;
  stage_before: string;
  stage_after: string;
}

export interface MergeOutcome {
  from: string;
  events: number;
  score_before: number | null;
  score_after: number | null;
}

/** One point of a lead's score over time, as `GET /api/leads/:id/series` returns it. */
/** What the score did over a run of consecutive history entries (`GET /api/leads/:id/series`). */
export interface ScoreSpan {
  /** Event time of its first entry, ISO-8601. */
  from: string;
  /** Event time of its last entry. */
  to: string;
  first: number;
  last: number;
  min: number;
  max: number;
  entries: number;
}

/** A lead's whole history bucketed for a chart, with the scores where the stages start. */
export interface ScoreSeries {
  buckets: number;
  spans: ScoreSpan[];
  thresholds: { warm: number; hot: number; qualified: number };
}

/** `GET /api/stats`: counts from the live state. */
export interface Stats {
  leads: number;
  by_stage: Record<Stage, number>;
  score_histogram: { from: number; to: number; count: number }[];
  events_24h: number;
  scored_24h: number;
  /** Events the store refused in the last 24 hours (kept as dead letters, not scored). */
  dead_letters_24h: number;
}

/** `GET /api/scoring`: the score's half-life in seconds (null without decay) and the stage thresholds in force. */
export interface ScoringSettings {
  half_life_seconds: number | null;
  /** Lower bounds of warm, hot and qualified. */
  stage_thresholds: readonly [number, number, number];
}

/** `PUT /api/scoring`'s answer: the setting, and the online re-key of the score index it took. */
export interface ScoringChange extends ScoringSettings {
  rekeyed_leads?: number;
  rekey_ms?: number;
}

/** A lead entering a stage (`GET /api/movements`); dates are ISO-8601 strings. */
export interface Movement {
  lead_id: string;
  from: Stage;
  to: Stage;
  /** When the commit that moved the lead happened. */
  at: string;
  /** The event that moved the lead, and its time. */
  event_id: string;
  event_type: string;
  timestamp: string;
  /** The lead's score after that commit. */
  score: number;
}

/** One stored event with its metadata (`GET /api/leads/:id/events/:event_id`). */
export interface StoredEvent {
  event_id: string;
  event_type: string;
  timestamp: string;
  received_at: string;
  metadata: Record<string, unknown>;
}

/** A profile edit: a field left out keeps its value, `null` clears it. */
export interface ProfileEdit {
  name?: string | null;
  email?: string | null;
  company?: string | null;
}

/** A scoring rule as `GET /api/rules` returns it. */
export interface RuleItem {
  _id: string;
  label: string;
  event_type: string;
  where?: Condition;
  points: number;
  limit?: { max: number; per: LimitPeriod; key?: string };
  group?: string;
  active: boolean;
  created_at?: string;
  updated_at?: string;
}

/** A rule as written: `_id` and `label` are the store's to settle when absent. */
export type RuleWrite = Omit<RuleItem, "_id" | "label" | "created_at" | "updated_at"> & {
  _id?: string;
  label?: string;
};

/** A rule change (`PUT /api/rules/:id`): the fields given; `null` removes `where`, `limit` or `group`. */
export type RulePatch = Partial<Omit<RuleItem, "_id" | "created_at" | "updated_at" | "where" | "limit" | "group">> & {
  where?: Condition | null;
  limit?: RuleItem["limit"] | null;
  group?: string | null;
};

/** A rule group: the points its rules add to one lead over its life never exceed `max`. */
export interface RuleGroupItem {
  _id: string;
  label: string;
  max: number;
}

/** What `POST /api/rules/test` is asked: an event and, optionally, the profile of its lead. */
export interface RuleTestRequest {
  event: { event_type: string; metadata?: Record<string, unknown> };
  lead?: { email?: string; company?: string; name?: string };
}

/** Which rules an event matches (with the points it may earn) and why every other rule does not. */
export interface RuleTestResult {
  rules_version: number;
  points: number;
  matched: {
    rule_id: string;
    label: string;
    points: number;
    limit?: CandidateLimit | RuleItem["limit"];
    group?: string | { id: string; max: number };
  }[];
  missed: { rule_id: string; label: string; reason: string }[];
  /** Present when no rule matches: why the event would score 0. */
  reason?: string;
}

/** `GET /api/leads/:id/breakdown`: the current score by group and by rule. */
export interface Breakdown {
  lead_id: string;
  score: number;
  rules_version: number | null;
  groups: { group: string; label?: string; max?: number; points: number; events: number }[];
  rules: { rule_id: string; label?: string; group: string | null; points: number; events: number }[];
  /** Events no rule matched. */
  unmatched: number;
}

export interface EventType {
  value: string;
  label: string;
  points: number;
}

export type LeadSort = "score" | "-score" | "updated_at" | "-updated_at" | "last_event_at" | "-last_event_at";

export interface LeadQuery {
  min_score?: number | null;
  max_score?: number | null;
  stage?: Stage | null;
  company?: string | null;
  q?: string | null;
  sort?: LeadSort | null;
  limit?: number;
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  /** From `X-Total-Count`; null when the server did not say. */
  total: number | null;
  /** Cursor of the next page, from the `Link: <…>; rel="next"` header. */
  next: string | null;
}

export interface EventSubmission {
  lead_id: string;
  event_type: string;
  event_id?: string;
  timestamp?: string;
  metadata?: Record<string, unknown>;
}

export interface EventAccepted {
  event_id: string;
  duplicate: boolean;
}

/** What an access token may do: read, or also every admin action. */
export type AccessRole = "read" | "admin";

export interface FieldDetail {
  path: string;
  message: string;
}

/** The re-score of every lead a retroactive publish started, as `GET /api/rule-sets/rescores/{id}` answers it. */
export interface Rescore {
  id: string;
  version: number;
  webhooks: "suppress" | "send";
  state: "queued" | "running" | "done" | "superseded" | "failed";
  progress: {
    leads_total: number;
    leads_done: number;
    events_total: number;
    events_done: number;
    leads_changed: number;
    stage_changes: number;
    fraction: number;
  };
  error: string | null;
}

/** An error the API answered with (or a network failure, status 0), in the API's own terms. */
export class ApiRequestError extends Error {
  override name = "ApiRequestError";
  constructor(
    readonly status: number,
    readonly code: ErrorCode | "NETWORK",
    message: string,
    readonly details: FieldDetail[] = [],
  ) {
    super(message);
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}

/** The `rel="next"` target of a `Link` header, or null. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(",")) {
    const match = part.match(/<([^>]*)>\s*;(.*)$/);
    if (match?.[2] && /\brel\s*=\s*"?next"?/i.test(match[2])) return match[1] ?? null;
  }
  return null;
}

/** The cursor carried by a next-page link. */
export function cursorOf(link: string | null): string | null {
  if (!link) return null;
  try {
    return new URL(link, "http://x").searchParams.get("cursor");
  } catch {
    return null;
  }
}

/** Query parameters of `GET /api/leads`, without empty values, in a stable order. */
export function leadQueryString(query: LeadQuery): string {
  const params = new URLSearchParams();
  const put = (name: string, value: string | number | null | undefined) => {
    if (value === null || value === undefined) return;
    const text = String(value).trim();
    if (text !== "") params.set(name, text);
  };
  put("min_score", query.min_score);
  put("max_score", query.max_score);
  put("stage", query.stage);
  put("company", query.company);
  put("q", query.q);
  put("sort", query.sort);
  put("limit", query.limit);
  put("cursor", query.cursor);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export interface Api {
  listLeads(query: LeadQuery): Promise<Page<Lead>>;
  getLead(id: string): Promise<RankedLead>;
  leadHistory(
    id: string,
    options: { order?: "asc" | "desc"; limit?: number; cursor?: string | null },
  ): Promise<Page<HistoryItem>>;
  /** The lead's score over its whole history, oldest first, in at most about `buckets` spans. */
  leadSeries(id: string, buckets: number): Promise<ScoreSeries>;
  leaderboard(limit?: number): Promise<LeaderboardEntry[]>;
  stats(): Promise<Stats>;
  /** Leads that entered a stage (`stage`, or any) since `since` (`24h`, `7d`, a time), newest first. */
  movements(query: { since: string; stage?: Stage; limit?: number; cursor?: string | null }): Promise<Page<Movement>>;
  leadEvent(leadId: string, eventId: string): Promise<StoredEvent>;
  updateLead(id: string, edit: ProfileEdit, adminToken: string): Promise<Lead>;
  /** The CSV export of the leads a list query selects (its paging left out). */
  exportLeads(query: LeadQuery): Promise<Blob>;
  deleteRule(id: string, adminToken: string): Promise<void>;
  eventTypes(): Promise<EventType[]>;
  submitEvent(event: EventSubmission, writeKey: string): Promise<EventAccepted>;
  listRules(): Promise<RuleItem[]>;
  /** A new rule; without a label the API derives one from the event type, without an id it mints one. */
  createRule(rule: RuleWrite, adminToken: string): Promise<RuleItem>;
  updateRule(id: string, patch: RulePatch, adminToken: string): Promise<RuleItem>;
  /** Which rules an event would match, with their points, and why the others would not. */
  testRules(request: RuleTestRequest, adminToken: string): Promise<RuleTestResult>;
  listRuleGroups(): Promise<RuleGroupItem[]>;
  createRuleGroup(group: Omit<RuleGroupItem, "_id"> & { _id?: string }, adminToken: string): Promise<RuleGroupItem>;
  updateRuleGroup(id: string, patch: Partial<Omit<RuleGroupItem, "_id">>, adminToken: string): Promise<RuleGroupItem>;
  /** Refused with 409 while a rule is in the group. */
  deleteRuleGroup(id: string, adminToken: string): Promise<void>;
  /** The lead's current score by group and by rule. */
  leadBreakdown(id: string): Promise<Breakdown>;
  /** The Prometheus text of `/metrics`. */
  metrics(): Promise<string>;
  /** The scoring settings: the half-life of score decay. */
  scoring(): Promise<ScoringSettings>;
  /** Sets the half-life (null: no decay); answers once the score index is re-keyed. */
  setScoring(settings: Pick<ScoringSettings, "half_life_seconds">, adminToken: string): Promise<ScoringChange>;
  /** The newest re-score of every lead (a retroactive publish), or null when there never was one. */
  currentRescore(): Promise<Rescore | null>;
  /**
   * What `token` may do: "admin" when it is the admin token, "read" when it only reads; throws the API's refusal
   * (401) when it does not even read.
   */
  checkToken(token: string): Promise<AccessRole>;
  /**
   * An admin call with a JSON body (or none): `items` is the answer when it is an array, else `[answer]` (`[]` for
   * a 204), with the page headers when it has them.
   */
  admin<T>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    adminToken: string,
    body?: unknown,
  ): Promise<Page<T>>;
}

export interface ApiOptions {
  base?: string;
  fetch?: typeof fetch;
  /** The read token sent as `Authorization: Bearer` on every read ("" sends none). */
  readToken?: () => string;
  /** Called when a read carrying the read token is refused with 401: the token no longer reads. */
  onUnauthorized?: () => void;
}

export function createApi(options: ApiOptions = {}): Api {
  const base = options.base ?? "";
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  /**
   * Reads carry the read token unless the request brings its own credentials (a write key, the admin token) or
   * must not carry it at all (`/metrics` has a token of its own).
   */
  async function request(path: string, init: RequestInit = {}, read = true): Promise<Response> {
    const headers = (init.headers as Record<string, string> | undefined) ?? {};
    const token = read && headers.authorization === undefined ? (options.readToken?.() ?? "") : "";
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        ...init,
        headers: {
          accept: "application/json",
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
      });
    } catch (error) {
      throw new ApiRequestError(0, "NETWORK", `the server could not be reached (${(error as Error).message})`);
    }
    if (response.ok) return response;
    if (response.status === 401 && token) options.onUnauthorized?.();
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // not JSON: fall back to the status line below
    }
    if (isErrorBody(body)) {
      throw new ApiRequestError(response.status, body.error.code, body.error.message, body.error.details ?? []);
    }
    throw new ApiRequestError(
      response.status,
      response.status === 404 ? "NOT_FOUND" : "INTERNAL",
      `${response.status} ${response.statusText}`.trim(),
    );
  }

  async function json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await request(path, init)).json()) as T;
  }

  async function page<T>(path: string): Promise<Page<T>> {
    const response = await request(path);
    const total = response.headers.get("x-total-count");
    return {
      items: (await response.json()) as T[],
      total: total === null || total === "" || Number.isNaN(Number(total)) ? null : Number(total),
      next: cursorOf(nextLink(response.headers.get("link"))),
    };
  }

  const send = (method: string, body: unknown, authorization: string): RequestInit => ({
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${authorization}` },
    body: JSON.stringify(body),
  });

  async function remove(path: string, token: string): Promise<void> {
    const response = await request(path, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    await response.body?.cancel();
  }

  return {
    listLeads: (query) => page<Lead>(`/api/leads${leadQueryString(query)}`),
    getLead: (id) => json<RankedLead>(`/api/leads/${encodeURIComponent(id)}`),
    leadHistory(id, { order, limit, cursor }) {
      const params = new URLSearchParams();
      if (order) params.set("order", order);
      if (limit) params.set("limit", String(limit));
      if (cursor) params.set("cursor", cursor);
      const query = params.toString();
      return page<HistoryItem>(`/api/leads/${encodeURIComponent(id)}/history${query ? `?${query}` : ""}`);
    },
    async leadSeries(id, buckets) {
      return json<ScoreSeries>(`/api/leads/${encodeURIComponent(id)}/series?buckets=${buckets}`);
    },
    async leaderboard(limit = 10) {
      // An array per the contract; `{ top }` (the socket payload's shape) is accepted as well.
      const body = await json<LeaderboardEntry[] | { top?: LeaderboardEntry[] }>(
        `/api/leads/leaderboard?limit=${limit}`,
      );
      return Array.isArray(body) ? body : (body.top ?? []);
    },
    stats: () => json<Stats>("/api/stats"),
    async currentRescore() {
      try {
        return await json<Rescore>("/api/rule-sets/rescores/current");
      } catch (error) {
        if (error instanceof ApiRequestError && error.status === 404) return null;
        throw error;
      }
    },
    movements({ since, stage, limit, cursor }) {
      const params = new URLSearchParams({ since });
      if (stage) params.set("stage", stage);
      if (limit) params.set("limit", String(limit));
      if (cursor) params.set("cursor", cursor);
      return page<Movement>(`/api/movements?${params}`);
    },
    leadEvent: (leadId, eventId) =>
      json<StoredEvent>(`/api/leads/${encodeURIComponent(leadId)}/events/${encodeURIComponent(eventId)}`),
    updateLead: (id, edit, token) => json<Lead>(`/api/leads/${encodeURIComponent(id)}`, send("PATCH", edit, token)),
    async exportLeads(query) {
      const filters = leadQueryString({ ...query, limit: undefined, cursor: null });
      const response = await request(`/api/leads/export.csv${filters}`, { headers: { accept: "text/csv" } });
      return response.blob();
    },
    deleteRule: (id, token) => remove(`/api/rules/${encodeURIComponent(id)}`, token),
    eventTypes: () => json<EventType[]>("/api/events/event-types"),
    submitEvent: (event, writeKey) => json<EventAccepted>("/api/events", send("POST", event, writeKey)),
    listRules: () => json<RuleItem[]>("/api/rules"),
    createRule: (rule, token) => json<RuleItem>("/api/rules", send("POST", rule, token)),
    updateRule: (id, patch, token) => json<RuleItem>(`/api/rules/${encodeURIComponent(id)}`, send("PUT", patch, token)),
    testRules: (body, token) => json<RuleTestResult>("/api/rules/test", send("POST", body, token)),
    listRuleGroups: () => json<RuleGroupItem[]>("/api/rule-groups"),
    createRuleGroup: (group, token) => json<RuleGroupItem>("/api/rule-groups", send("POST", group, token)),
    updateRuleGroup: (id, patch, token) =>
      json<RuleGroupItem>(`/api/rule-groups/${encodeURIComponent(id)}`, send("PUT", patch, token)),
    deleteRuleGroup: (id, token) => remove(`/api/rule-groups/${encodeURIComponent(id)}`, token),
    leadBreakdown: (id) => json<Breakdown>(`/api/leads/${encodeURIComponent(id)}/breakdown`),
    scoring: () => json<ScoringSettings>("/api/scoring"),
    setScoring: (settings, token) => json<ScoringChange>("/api/scoring", send("PUT", settings, token)),
    async metrics() {
      const response = await request("/metrics", { headers: { accept: "text/plain" } }, false);
      return response.text();
    },
    async admin<T>(method: string, path: string, token: string, body?: unknown): Promise<Page<T>> {
      const init = send(method, body, token);
      if (body === undefined) delete init.body;
      const response = await request(path, init);
      const total = response.headers.get("x-total-count");
      const answer: unknown = response.status === 204 ? [] : await response.json();
      return {
        items: (Array.isArray(answer) ? answer : [answer]) as T[],
        total: total === null ? null : Number(total),
        next: cursorOf(nextLink(response.headers.get("link"))),
      };
    },
    async checkToken(token) {
      const reads = await request("/api/events/event-types", { headers: { authorization: `Bearer ${token}` } });
      await reads.body?.cancel();
      // An admin-only read: a read token is refused it with 403, which is the answer, not a failure.
      try {
        const admin = await request("/api/webhooks", { headers: { authorization: `Bearer ${token}` } });
        await admin.body?.cancel();
        return "admin";
      } catch (failure) {
        if (failure instanceof ApiRequestError && failure.status === 403) return "read";
        throw failure;
      }
    },
  };
}
