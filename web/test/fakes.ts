// Test doubles for the two things the dashboard talks to: a Socket.io socket (driven by the test) and the HTTP API.
import type {
  LeaderboardEntry,
  LeaderboardUpdate,
  LeadMerged,
  ScoreUpdate,
  SubscribeRequest,
} from "@leadscore/contracts";
import { vi } from "vitest";
import type { Api, HistoryItem, Lead, Page, RankedLead, RuleItem, ScoreSeries } from "../src/lib/api.ts";
import { createRealtime, type Realtime, type RealtimeSocket } from "../src/lib/realtime.ts";
import type { WebhookItem } from "../src/webhooks/model.ts";

type Listener = (...args: never[]) => void;

export class FakeSocket implements RealtimeSocket {
  connected = false;
  readonly sent: { event: "subscribe" | "unsubscribe"; request: SubscribeRequest }[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  on(event: string, listener: Listener) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  emit(
    event: "subscribe" | "unsubscribe",
    request: SubscribeRequest,
    ack?: (result: { ok: boolean; error?: string }) => void,
  ) {
    this.sent.push({ event, request });
    // The server answers every request; a test may hold the answers back to see the client wait for them.
    if (ack) {
      if (this.holdAnswers) this.held.push(ack);
      else ack({ ok: true });
    }
    return this;
  }

  /** Whether answers to requests are held (see `answer`). */
  holdAnswers = false;
  held: ((result: { ok: boolean; error?: string }) => void)[] = [];

  /** Answers the oldest held request. */
  answer(result: { ok: boolean; error?: string } = { ok: true }) {
    this.held.shift()?.(result);
  }

  /** How many times the app asked to connect. */
  connects = 0;

  connect() {
    this.connects += 1;
    return this;
  }

  disconnect() {
    this.connected = false;
    return this;
  }

  private fire(event: string, ...args: unknown[]) {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }

  /** What the server sends every socket that connects, as the real one does. */
  top: LeaderboardUpdate["top"] = [];

  serverConnect() {
    this.connected = true;
    this.fire("connect");
    this.fire("leaderboard", { top: this.top });
  }

  serverDisconnect(reason = "transport close") {
    this.connected = false;
    this.fire("disconnect", reason);
  }

  /** The handshake is refused by the server's middleware with this message. */
  serverRefuse(message: string) {
    this.connected = false;
    this.fire("connect_error", new Error(message));
  }

  scoreUpdate(update: ScoreUpdate) {
    this.fire("score_update", update);
  }

  leaderboard(update: LeaderboardUpdate) {
    this.fire("leaderboard", update);
  }

  leadMerged(merged: LeadMerged) {
    this.fire("lead_merged", merged);
  }
}

/**
 * The app's realtime client on a fake socket. `held()` counts the listeners and rooms taken through it and not let go
 * yet, so a test can see that a model leaves none behind.
 */
export function fakeRealtime(connected = true, onUnauthorized?: () => void) {
  const socket = new FakeSocket();
  const client = createRealtime(socket, { onUnauthorized });
  let held = 0;
  const counted =
    <A extends unknown[]>(take: (...args: A) => () => void) =>
    (...args: A) => {
      const release = take(...args);
      held += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held -= 1;
        release();
      };
    };
  const realtime: Realtime = {
    ...client,
    onScoreUpdate: counted(client.onScoreUpdate),
    onLeaderboard: counted(client.onLeaderboard),
    onLeadMerged: counted(client.onLeadMerged),
    subscribe: counted(client.subscribe),
  };
  if (connected) socket.serverConnect();
  return { socket, realtime, held: () => held };
}

/** A lead as the API returns it, with the rank `GET /api/leads/:id` adds (lists ignore it). */
export function lead(overrides: Partial<RankedLead> & { _id: string }): RankedLead {
  return {
    rank: 1,
    rank_of: 1,
    name: null,
    email: null,
    company: null,
    current_score: 0,
    stage: "cold",
    event_count: 0,
    last_event_at: "2025-01-01T10:00:00.000Z",
    updated_at: "2025-01-01T10:00:00.000Z",
    created_at: "2025-01-01T09:00:00.000Z",
    ...overrides,
  };
}

export function historyItem(overrides: Partial<HistoryItem> & { event_id: string }): HistoryItem {
  return {
    lead_id: "lead-1",
    event_type: "page_view",
    timestamp: "2025-01-01T10:00:00.000Z",
    received_at: "2025-01-01T10:00:00.100Z",
    points: 5,
    delta: 5,
    score: 5,
    reason: "page_view +5",
    rule_id: "page_view",
    late: false,
    ...overrides,
  };
}

export function entry(id: string, score: number, overrides: Partial<LeaderboardEntry> = {}): LeaderboardEntry {
  return { _id: id, name: null, company: null, current_score: score, stage: "cold", ...overrides };
}

export function scoreUpdate(overrides: Partial<ScoreUpdate> & { lead_id: string }): ScoreUpdate {
  return {
    current_score: 10,
    delta: 10,
    stage: "cold",
    event_id: `evt-${Math.random().toString(36).slice(2)}`,
    event_type: "email_open",
    timestamp: "2025-01-02T10:00:00.000Z",
    ...overrides,
  };
}

export function page<T>(items: T[], total: number | null = items.length, next: string | null = null): Page<T> {
  return { items, total, next };
}

export const RULES: RuleItem[] = [
  { _id: "email_open", event_type: "email_open", points: 10, active: true, label: "Email Open" },
  { _id: "purchase", event_type: "purchase", points: 100, active: true, label: "Purchase" },
];

/** An API whose every method is a mock; tests override the ones they care about. */
export function fakeApi(overrides: Partial<Api> = {}) {
  const api = {
    listLeads: vi.fn<Api["listLeads"]>(async () => page<Lead>([])),
    getLead: vi.fn<Api["getLead"]>(async (id) => lead({ _id: id })),
    leadHistory: vi.fn<Api["leadHistory"]>(async () => page<HistoryItem>([])),
    leadSeries: vi.fn<Api["leadSeries"]>(async () => series([])),
    leaderboard: vi.fn<Api["leaderboard"]>(async () => []),
    eventTypes: vi.fn<Api["eventTypes"]>(async () => [
      { value: "email_open", label: "Email Open", points: 10 },
      { value: "purchase", label: "Purchase", points: 100 },
    ]),
    submitEvent: vi.fn<Api["submitEvent"]>(async () => ({ event_id: "evt-1", duplicate: false })),
    listRules: vi.fn<Api["listRules"]>(async () => RULES),
    createRule: vi.fn<Api["createRule"]>(async (rule) => ({ _id: rule.event_type, label: rule.event_type, ...rule })),
    updateRule: vi.fn<Api["updateRule"]>(async (id, patch) => {
      const { where, limit, group, ...fields } = { ...(RULES.find((rule) => rule._id === id) as RuleItem), ...patch };
      return { ...fields, ...(where ? { where } : {}), ...(limit ? { limit } : {}), ...(group ? { group } : {}) };
    }),
    testRules: vi.fn<Api["testRules"]>(async () => ({ rules_version: 1, points: 0, matched: [], missed: [] })),
    listRuleGroups: vi.fn<Api["listRuleGroups"]>(async () => []),
    createRuleGroup: vi.fn<Api["createRuleGroup"]>(async (group) => ({ _id: group._id ?? "g1", ...group })),
    updateRuleGroup: vi.fn<Api["updateRuleGroup"]>(async (id, patch) => ({ _id: id, label: id, max: 1, ...patch })),
    deleteRuleGroup: vi.fn<Api["deleteRuleGroup"]>(async () => undefined),
    leadBreakdown: vi.fn<Api["leadBreakdown"]>(async (id) => ({
      lead_id: id,
      score: 0,
      rules_version: 1,
      groups: [],
      rules: [],
      unmatched: 0,
    })),
    metrics: vi.fn<Api["metrics"]>(async () => ""),
    scoring: vi.fn<Api["scoring"]>(async () => ({ half_life_seconds: null, stage_thresholds: [100, 300, 600] })),
    setScoring: vi.fn<Api["setScoring"]>(async (settings) => ({
      ...settings,
      stage_thresholds: [100, 300, 600],
      rekeyed_leads: 0,
      rekey_ms: 0,
    })),
    currentRescore: vi.fn<Api["currentRescore"]>(async () => null),
    stats: vi.fn<Api["stats"]>(async () => ({
      leads: 0,
      by_stage: { cold: 0, warm: 0, hot: 0, qualified: 0 },
      score_histogram: [],
      events_24h: 0,
      scored_24h: 0,
      dead_letters_24h: 0,
    })),
    movements: vi.fn<Api["movements"]>(async () => ({ items: [], total: null, next: null })),
    leadEvent: vi.fn<Api["leadEvent"]>(async (_lead, eventId) => ({
      event_id: eventId,
      event_type: "page_view",
      timestamp: "2026-01-01T00:00:00.000Z",
      received_at: "2026-01-01T00:00:00.000Z",
      metadata: {},
    })),
    updateLead: vi.fn<Api["updateLead"]>(async (id, edit) => ({ ...lead({ _id: id }), ...edit })),
    exportLeads: vi.fn<Api["exportLeads"]>(async () => new Blob(["_id\r\n"])),
    deleteRule: vi.fn<Api["deleteRule"]>(async () => undefined),
    checkToken: vi.fn<Api["checkToken"]>(async () => "read" as const),
    admin: vi.fn(async () => page<never>([])) as unknown as Api["admin"],
  };
  return Object.assign(api, overrides);
}

/** Lets pending promise callbacks run. */
export async function settle(times = 5) {
  for (let i = 0; i < times; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** A subscription as the API shows it, active and healthy. */
export const HOOK: WebhookItem = {
  id: "wh_1",
  url: "https://crm.example.com/hooks",
  events: ["lead.stage_changed"],
  description: "",
  active: true,
  disabled_reason: null,
  disabled_at: null,
  failing_since: null,
  last_success_at: null,
  pending: 0,
  dropped: 0,
  notices: [],
  created_at: "2026-03-01T12:00:00.000Z",
  updated_at: "2026-03-01T12:00:00.000Z",
};

/** The subscription as the API shows it once the dispatcher disabled it after dropping messages. */
export const DISABLED_HOOK: WebhookItem = {
  ...HOOK,
  active: false,
  disabled_reason: "its receiver accepted no delivery for 3 days (WEBHOOK_DISABLE_AFTER_MS)",
  disabled_at: "2026-03-04T12:00:00.000Z",
  failing_since: "2026-03-01T12:00:00.000Z",
  pending: 100000,
  dropped: 42,
  notices: [
    {
      type: "webhook.disabled",
      at: "2026-03-04T12:00:00.000Z",
      reason: "its receiver accepted no delivery for 3 days (WEBHOOK_DISABLE_AFTER_MS)",
    },
    { type: "webhook.backlog_full", at: "2026-03-03T08:00:00.000Z", reason: "the backlog is at its bound", dropped: 1 },
  ],
};

/** A score series of one span per event (the score after it at its time), with the default stage thresholds. */
export function series(points: readonly { timestamp: string; score: number }[]): ScoreSeries {
  return {
    buckets: 600,
    spans: points.map(({ timestamp, score }) => ({
      from: timestamp,
      to: timestamp,
      first: score,
      last: score,
      min: score,
      max: score,
      entries: 1,
    })),
    thresholds: { warm: 100, hot: 300, qualified: 600 },
  };
}
