// Headline figures, computed from what the API already offers: lead counts from `X-Total-Count`, the average score
// from a page of leads, and ingestion figures read off the Prometheus text of `/metrics`.
import type { Stage } from "@leadscore/contracts";
import { parsePrometheus, type Sample, sumOf } from "@leadscore/contracts/prometheus";
import { batch, computed, type ReadonlySignal, signal } from "@preact/signals";
import type { Api, Lead } from "../lib/api.ts";
import { STAGES } from "../lib/format.ts";
import type { Realtime } from "../lib/realtime.ts";

/** Leads read to compute the average score; beyond this many it is the average of the most recently updated. */
export const AVERAGE_SAMPLE = 200;
const REFRESH_INTERVAL_MS = 10_000;
/** Live activity refreshes the figures at most this often. */
const LIVE_REFRESH_MS = 2000;

/** Names in the edge's `/metrics` (edge/src/metrics.ts, edge/src/routes/ingest/metrics.ts). */
export const METRIC_NAMES = {
  accepted: "leadscore_events_accepted_total",
  queueDepth: "leadscore_queue_depth",
  lag: "leadscore_queue_lag_seconds",
} as const;

export interface IngestFigures {
  /** Events accepted by the edge process that answered, since it started. */
  accepted: number | null;
  queueDepth: number | null;
  /** Age of the oldest job waiting to be scored, in seconds. */
  lagSeconds: number | null;
}

export function ingestFigures(samples: readonly Sample[]): IngestFigures {
  return {
    accepted: sumOf(samples, METRIC_NAMES.accepted),
    queueDepth: sumOf(samples, METRIC_NAMES.queueDepth),
    lagSeconds: sumOf(samples, METRIC_NAMES.lag),
  };
}

export interface LeadFigures {
  total: number;
  byStage: Record<Stage, number | null>;
  averageScore: number | null;
  /** Leads the average was computed over; less than `total` when it is a sample. */
  averageOver: number;
}

export function averageScore(leads: readonly Pick<Lead, "current_score">[]): number | null {
  if (leads.length === 0) return null;
  return leads.reduce((sum, lead) => sum + lead.current_score, 0) / leads.length;
}

export interface HeadlineModel {
  readonly leads: ReadonlySignal<LeadFigures | null>;
  readonly ingest: ReadonlySignal<IngestFigures | null>;
  readonly status: ReadonlySignal<"loading" | "ready" | "error">;
  readonly error: ReadonlySignal<string | null>;
  readonly metricsAvailable: ReadonlySignal<boolean>;
  refresh(): Promise<void>;
  activate(): () => void;
}

export function createHeadlineModel(deps: { api: Pick<Api, "listLeads" | "metrics">; realtime: Realtime }) {
  const leads = signal<LeadFigures | null>(null, { name: "headline.leads" });
  const ingest = signal<IngestFigures | null>(null, { name: "headline.ingest" });
  const status = signal<"loading" | "ready" | "error">("loading", { name: "headline.status" });
  const error = signal<string | null>(null, { name: "headline.error" });
  let lastRefresh = 0;
  let pending: ReturnType<typeof setTimeout> | null = null;

  async function loadLeads(): Promise<LeadFigures> {
    const [sample, ...stages] = await Promise.all([
      deps.api.listLeads({ sort: "-updated_at", limit: AVERAGE_SAMPLE }),
      ...STAGES.map((stage) => deps.api.listLeads({ stage, limit: 1 })),
    ]);
    const byStage = Object.fromEntries(STAGES.map((stage, i) => [stage, stages[i]?.total ?? null])) as Record<
      Stage,
      number | null
    >;
    return {
      total: sample.total ?? sample.items.length,
      byStage,
      averageScore: averageScore(sample.items),
      averageOver: sample.items.length,
    };
  }

  async function loadIngest(): Promise<IngestFigures | null> {
    try {
      return ingestFigures(parsePrometheus(await deps.api.metrics()));
    } catch {
      // `/metrics` may be closed to browsers in some deployments; the lead figures still stand.
      return null;
    }
  }

  async function refresh() {
    lastRefresh = Date.now();
    const [leadFigures, ingestResult] = await Promise.allSettled([loadLeads(), loadIngest()]);
    batch(() => {
      if (ingestResult.status === "fulfilled") ingest.value = ingestResult.value;
      if (leadFigures.status === "fulfilled") {
        leads.value = leadFigures.value;
        status.value = "ready";
        error.value = null;
      } else if (leads.value === null) {
        status.value = "error";
        error.value = (leadFigures.reason as Error).message;
      }
    });
  }

  function soon() {
    if (pending !== null) return;
    pending = setTimeout(
      () => {
        pending = null;
        void refresh();
      },
      Math.max(0, lastRefresh + LIVE_REFRESH_MS - Date.now()),
    );
  }

  return {
    leads,
    ingest,
    status,
    error,
    metricsAvailable: computed(() => {
      const figures = ingest.value;
      return figures !== null && (figures.accepted !== null || figures.queueDepth !== null);
    }),
    refresh,
    activate() {
      void refresh();
      const timer = setInterval(() => void refresh(), REFRESH_INTERVAL_MS);
      const stop = deps.realtime.onLeaderboard(soon);
      return () => {
        clearInterval(timer);
        stop();
        if (pending !== null) clearTimeout(pending);
        pending = null;
      };
    },
  } satisfies HeadlineModel;
}
