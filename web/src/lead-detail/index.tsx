import { useEffect } from "preact/hooks";
import { Empty, ErrorState, Loading, PageTitle, StageBadge } from "../app/ui.tsx";
import type { HistoryItem, RankedLead } from "../lib/api.ts";
import { formatDateTime, formatInteger, formatSigned, leadName } from "../lib/format.ts";
import type { LeadDetailModel } from "./model.ts";
import { ScoreChart } from "./score-chart.tsx";

function Profile({ lead }: { lead: RankedLead }) {
  return (
    <section class="panel profile" aria-labelledby="profile-title">
      <h2 id="profile-title" class="sr-only">
        Profile
      </h2>
      <div class="score-now" aria-live="polite">
        <span class="score-now-label">Score</span>
        <span class="score-now-value" data-testid="current-score">
          {formatInteger(lead.current_score)}
        </span>
        <StageBadge stage={lead.stage} />
        {lead.rank !== null ? (
          <span class="score-now-rank muted" data-testid="lead-rank">
            #{formatInteger(lead.rank)} of {formatInteger(lead.rank_of)}
          </span>
        ) : null}
      </div>
      <dl class="profile-list">
        <div>
          <dt>Lead id</dt>
          <dd>
            <code>{lead._id}</code>
          </dd>
        </div>
        <div>
          <dt>Email</dt>
          <dd>{lead.email || "—"}</dd>
        </div>
        <div>
          <dt>Company</dt>
          <dd>{lead.company || "—"}</dd>
        </div>
        <div>
          <dt>Events</dt>
          <dd>{formatInteger(lead.event_count)}</dd>
        </div>
        <div>
          <dt>Last event</dt>
          <dd>{formatDateTime(lead.last_event_at)}</dd>
        </div>
        {lead.created_at ? (
          <div>
            <dt>First seen</dt>
            <dd>{formatDateTime(lead.created_at)}</dd>
          </div>
        ) : null}
      </dl>
    </section>
  );
}

function Entry({ entry, fresh }: { entry: HistoryItem; fresh: boolean }) {
  const classes = ["timeline-entry", fresh ? "fresh" : "", entry.late ? "late" : ""].filter(Boolean).join(" ");
  return (
    <li class={classes}>
      <div class="timeline-main">
        <span class="timeline-type">{entry.event_type}</span>
        {entry.late ? (
          <span class="badge badge-late" title="Arrived after newer events; the scores after it were recomputed">
            late
          </span>
        ) : null}
        {fresh ? <span class="badge badge-new">new</span> : null}
        <span class="timeline-reason muted">{entry.reason}</span>
      </div>
      <dl class="timeline-figures">
        <div>
          <dt>Points</dt>
          <dd>{formatSigned(entry.points)}</dd>
        </div>
        <div>
          <dt>Change</dt>
          <dd class={entry.delta > 0 ? "up" : entry.delta < 0 ? "down" : undefined}>{formatSigned(entry.delta)}</dd>
        </div>
        <div>
          <dt>Score</dt>
          <dd>{formatInteger(entry.score)}</dd>
        </div>
      </dl>
      <time class="timeline-time muted" dateTime={entry.timestamp}>
        {formatDateTime(entry.timestamp)}
      </time>
    </li>
  );
}

function Timeline({ model }: { model: LeadDetailModel }) {
  const status = model.historyStatus.value;
  const entries = model.history.value;
  const fresh = model.fresh.value;
  return (
    <section class="panel" aria-labelledby="timeline-title">
      <div class="panel-head">
        <h2 id="timeline-title">Events</h2>
        <span class="muted">newest first</span>
      </div>
      {status === "loading" && entries.length === 0 ? <Loading label="Loading events…" /> : null}
      {status === "error" && entries.length === 0 ? (
        <ErrorState
          title="The events could not be loaded."
          message={model.historyError.value}
          onRetry={() => void model.reload()}
        />
      ) : null}
      {status === "ready" && entries.length === 0 ? (
        <Empty>
          <p>No scored events yet.</p>
        </Empty>
      ) : null}
      {entries.length > 0 ? (
        <ol class="timeline" aria-label="Score history">
          {entries.map((entry) => (
            <Entry key={entry.event_id} entry={entry} fresh={fresh.has(entry.event_id)} />
          ))}
        </ol>
      ) : null}
      {entries.length > 0 && model.historyError.value ? <p class="field-error">{model.historyError.value}</p> : null}
      {model.hasMore.value ? (
        <button type="button" class="button" disabled={model.loadingMore.value} onClick={() => void model.loadMore()}>
          {model.loadingMore.value ? "Loading…" : "Load older events"}
        </button>
      ) : null}
    </section>
  );
}

export function LeadDetailPage({ model }: { model: LeadDetailModel }) {
  useEffect(() => model.activate(), [model]);
  const lead = model.lead.value;
  const status = model.status.value;

  if (status === "not-found") {
    return (
      <section class="panel not-found">
        <PageTitle title="Lead not found">Lead not found</PageTitle>
        <p>
          There is no lead <code>{model.id}</code> (yet). A lead is created by its first event.
        </p>
        <p>
          <a href="/">Back to the dashboard</a>
        </p>
      </section>
    );
  }
  return (
    <>
      <p class="breadcrumb">
        <a href="/">Dashboard</a> <span aria-hidden="true">›</span> Lead
      </p>
      <PageTitle title={lead ? leadName(lead) : model.id}>{lead ? leadName(lead) : model.id}</PageTitle>
      {status === "loading" && !lead ? <Loading label="Loading the lead…" /> : null}
      {status === "error" && !lead ? (
        <ErrorState
          title="The lead could not be loaded."
          message={model.error.value}
          onRetry={() => void model.reload()}
        />
      ) : null}
      {lead ? (
        <div class="detail-grid">
          <Profile lead={lead} />
          <section class="panel" aria-labelledby="chart-title">
            <h2 id="chart-title">Score over time</h2>
            {model.points.value.length > 0 ? (
              <ScoreChart points={model.points.value} sampled={model.sampled.value} />
            ) : model.pointsStatus.value === "loading" ? (
              <Loading label="Loading the chart…" />
            ) : model.pointsStatus.value === "error" ? (
              <ErrorState
                title="The chart could not be loaded."
                message={model.pointsError.value}
                onRetry={() => void model.reload()}
              />
            ) : (
              <Empty>
                <p>The chart appears with the first scored event.</p>
              </Empty>
            )}
          </section>
        </div>
      ) : null}
      {lead ? <Timeline model={model} /> : null}
    </>
  );
}
