import { useEffect } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { AdminNeeded, Empty, ErrorState, FieldError, FormErrors, Loading, PageTitle, StageBadge } from "../app/ui.tsx";
import type { HistoryItem, MergeOutcome, RankedLead, RescoreOutcome } from "../lib/api.ts";
import { shownScore } from "../lib/decay.ts";
import { formatDateTime, formatInteger, formatSigned, leadName } from "../lib/format.ts";
import { EntryRules, WhyThisScore } from "./breakdown.tsx";
import {
  type EventDetails,
  entryKey,
  type LeadDetailModel,
  outcomeLines,
  PROFILE_FIELDS,
  type ProfileField,
} from "./model.ts";
import { ScoreChart } from "./score-chart.tsx";

const PROFILE_LABELS: Record<ProfileField, string> = { name: "Name", email: "Email", company: "Company" };

function ProfileForm({ model }: { model: LeadDetailModel }) {
  const draft = model.draft.value;
  if (!draft) return null;
  const errors = model.profileErrors.value;
  return (
    <form
      class="form profile-form"
      noValidate
      aria-label="Edit profile"
      onSubmit={(event) => {
        event.preventDefault();
        void model.saveProfile();
      }}
    >
      <FormErrors messages={errors.form} />
      {PROFILE_FIELDS.map((field) => (
        <div class="field" key={field}>
          <label for={`profile-${field}`}>{PROFILE_LABELS[field]}</label>
          <input
            id={`profile-${field}`}
            type="text"
            inputMode={field === "email" ? "email" : "text"}
            autoComplete="off"
            value={draft[field]}
            onInput={(event) => model.setDraft(field, (event.currentTarget as HTMLInputElement).value)}
            aria-invalid={errors.fields[field] ? true : undefined}
            aria-describedby={errors.fields[field] ? `profile-${field}-error` : undefined}
          />
          <FieldError id={`profile-${field}-error`} message={errors.fields[field]} />
        </div>
      ))}
      {errors.fields.token ? (
        <AdminNeeded action="Editing the profile" next={leadHref(model.id.value)} reason={errors.fields.token} />
      ) : null}
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={model.savingProfile.value}>
          {model.savingProfile.value ? "Saving…" : "Save profile"}
        </button>
        <button type="button" class="button button-quiet" onClick={() => model.cancelEdit()}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** A long id (an anonymous visitor's UUID) cut to what tells it apart on screen; the whole id is its title. */
const shortId = (id: string) => (id.length > 12 ? `${id.slice(0, 9)}…` : id);

function Profile({ lead, model }: { lead: RankedLead; model: LeadDetailModel }) {
  return (
    <section class="panel profile" aria-labelledby="profile-title">
      <h2 id="profile-title" class="sr-only">
        Profile
      </h2>
      <div class="score-now" aria-live="polite">
        <span class="score-now-label">Score</span>
        <span class="score-now-value" data-testid="current-score">
          {formatInteger(shownScore(lead.current_score))}
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
        {lead.merged_from?.length ? (
          <div>
            <dt>Merged from</dt>
            <dd data-testid="merged-from">
              {lead.merged_from.map((merged, index) => (
                <span key={merged.id}>
                  {index > 0 ? ", " : null}
                  merged from <code title={merged.id}>{shortId(merged.id)}</code> ({formatInteger(merged.events)}{" "}
                  {merged.events === 1 ? "event" : "events"})
                </span>
              ))}
            </dd>
          </div>
        ) : null}
        {model.firstSeen.value !== null ? (
          <div>
            <dt>First seen</dt>
            <dd data-testid="first-seen">{formatDateTime(new Date(model.firstSeen.value).toISOString())}</dd>
          </div>
        ) : null}
        <div>
          <dt>Last event</dt>
          <dd>{formatDateTime(lead.last_event_at)}</dd>
        </div>
      </dl>
      {model.adminToken.value === "" ? (
        <AdminNeeded action="Editing the profile" next={leadHref(lead._id)} />
      ) : model.draft.value ? (
        <ProfileForm model={model} />
      ) : (
        <button type="button" class="button button-quiet" onClick={() => model.editProfile()}>
          Edit profile
        </button>
      )}
    </section>
  );
}

/** What the reason adds to the type and points: a clamp, or that no rule applied. */
function reasonNote(entry: HistoryItem): string | null {
  if (entry.merge) return mergeNote(entry.merge);
  if (entry.rescore) return rescoreNote(entry.rescore);
  // A decay entry matched no rule: its reason says which threshold the score fell below.
  if (entry.cause === "decay") return entry.reason;
  if (entry.rule_id === null) return "no active rule";
  if (entry.delta === entry.points) return null;
  return entry.reason.match(/\(([^)]*)\)$/)?.[1] ?? entry.reason;
}

/** "merged from anon-7f3c… (3 events), 20 → 35": the scores when the merge committed, when they are known. */
function mergeNote(merge: MergeOutcome): string {
  const brought = `merged from ${shortId(merge.from)} (${formatInteger(merge.events)} ${merge.events === 1 ? "event" : "events"})`;
  if (merge.score_before === null || merge.score_after === null) return brought;
  return `${brought}, ${formatInteger(merge.score_before)} → ${formatInteger(merge.score_after)}`;
}

/** "re-scored v3 → v4: 120 → 170 (+50), warm → hot". */
function rescoreNote(rescore: RescoreOutcome): string {
  const from = rescore.from_version === null ? "v1 rules" : `v${rescore.from_version}`;
  const sign = rescore.delta > 0 ? "+" : "";
  const scores = `${formatInteger(rescore.score_before)} → ${formatInteger(rescore.score_after)} (${sign}${formatInteger(rescore.delta)})`;
  const stages =
    rescore.stage_before === rescore.stage_after ? "" : `, ${rescore.stage_before} → ${rescore.stage_after}`;
  return `re-scored ${from} → v${rescore.to_version}: ${scores}${stages}`;
}

function Details({ details }: { details: EventDetails }) {
  if (details.status === "loading") return <Loading label="Loading the event…" />;
  if (details.status === "error") return <p class="field-error">{details.message}</p>;
  const { event } = details;
  const metadata = Object.keys(event.metadata).length > 0 ? JSON.stringify(event.metadata, null, 2) : null;
  return (
    <dl class="timeline-details">
      <div>
        <dt>Event id</dt>
        <dd>
          <code>{event.event_id}</code>
        </dd>
      </div>
      <div>
        <dt>Received</dt>
        <dd>{formatDateTime(event.received_at)}</dd>
      </div>
      <div>
        <dt>Metadata</dt>
        <dd>{metadata ? <pre>{metadata}</pre> : "none"}</dd>
      </div>
    </dl>
  );
}

function Entry({ entry, fresh, model }: { entry: HistoryItem; fresh: boolean; model: LeadDetailModel }) {
  const classes = ["timeline-entry", fresh ? "fresh" : "", entry.late ? "late" : ""].filter(Boolean).join(" ");
  const details = model.details.value[entry.event_id];
  const lines = outcomeLines(entry, model.labels.value.rules, model.labelsSettled.value);
  // The matched rules say what was cut and why; the reason's note would say it again.
  const note = lines.length > 0 ? null : reasonNote(entry);
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
        {note ? <span class="timeline-reason muted">{note}</span> : null}
        {/* A decay, merge or re-score entry has no stored event to show. */}
        {entry.cause === "decay" || entry.cause === "merge" || entry.cause === "rescore" ? null : (
          <button
            type="button"
            class="button button-quiet button-small"
            aria-expanded={!!details}
            aria-label={`Details of ${entry.event_type}`}
            onClick={() => model.toggleDetails(entry.event_id)}
          >
            Details
          </button>
        )}
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
          <dd>{formatInteger(shownScore(entry.score))}</dd>
        </div>
      </dl>
      <time class="timeline-time muted" dateTime={entry.timestamp}>
        {formatDateTime(entry.timestamp)}
      </time>
      {lines.length > 0 ? <EntryRules lines={lines} /> : null}
      {details ? (
        <div class="timeline-more">
          <Details details={details} />
        </div>
      ) : null}
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
            <Entry key={entryKey(entry)} entry={entry} fresh={fresh.has(entry.event_id)} model={model} />
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
  const lead = model.shownLead.value;
  const status = model.status.value;

  if (status === "not-found" || status === "invalid") {
    return (
      <section class="panel not-found">
        <PageTitle title="Lead not found">Lead not found</PageTitle>
        {status === "invalid" ? (
          <p>
            <code>{model.id.value}</code> is not a lead id: ids are 1 to 128 letters, digits, dots, underscores, colons
            or hyphens. Check the address.
          </p>
        ) : (
          <p>
            There is no lead <code>{model.id.value}</code> (yet). A lead is created by its first event.
          </p>
        )}
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
      <PageTitle title={lead ? leadName(lead) : model.id.value}>{lead ? leadName(lead) : model.id.value}</PageTitle>
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
          <Profile lead={lead} model={model} />
          <section class="panel" aria-labelledby="chart-title">
            <h2 id="chart-title">Score over time</h2>
            {model.spans.value.length > 0 && model.thresholds.value ? (
              <ScoreChart
                spans={model.spans.value}
                thresholds={model.thresholds.value}
                decay={model.halfLife.value === null ? null : { halfLife: model.halfLife.value, now: model.now.value }}
              />
            ) : model.seriesStatus.value === "loading" ? (
              <Loading label="Loading the chart…" />
            ) : model.seriesStatus.value === "error" ? (
              <ErrorState
                title="The chart could not be loaded."
                message={model.seriesError.value}
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
      {lead ? <WhyThisScore model={model} /> : null}
      {lead ? <Timeline model={model} /> : null}
    </>
  );
}
