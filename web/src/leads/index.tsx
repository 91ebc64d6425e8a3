import type { Stage } from "@leadscore/contracts";
import { STAGES } from "@leadscore/contracts/stage";
import { useEffect } from "preact/hooks";
import { leadHref } from "../app/router.ts";
import { Empty, ErrorState, FieldError, Loading, StageBadge } from "../app/ui.tsx";
import type { LeadSort } from "../lib/api.ts";
import { shownScore } from "../lib/decay.ts";
import { formatAge, formatDateTime, formatInteger } from "../lib/format.ts";
import { type LeadsModel, SORTS, type SortColumn } from "./model.ts";

function Filters({ model }: { model: LeadsModel }) {
  const filters = model.filters.value;
  const errors = model.errors.value;
  const text = (key: "q" | "company" | "min_score" | "max_score") => ({
    id: `filter-${key}`,
    value: filters[key],
    onInput: (event: Event) => model.setFilter(key, (event.currentTarget as HTMLInputElement).value),
    "aria-invalid": errors[key] ? true : undefined,
    "aria-describedby": errors[key] ? `filter-${key}-error` : undefined,
  });
  return (
    <form
      id="lead-filters"
      class={model.filtersOpen.value ? "filters filters-open" : "filters"}
      aria-label="Filter leads"
      onSubmit={(event) => event.preventDefault()}
    >
      <div class="field field-wide">
        <label for="filter-q">Search</label>
        <input type="search" autoComplete="off" {...text("q")} aria-describedby="filter-q-hint" />
        <p id="filter-q-hint" class="hint">
          Words of a lead id, name, email or company, in any order; accents optional
        </p>
      </div>
      <div class="field">
        <label for="filter-company">Company</label>
        <input type="text" autoComplete="off" list="company-suggestions" {...text("company")} />
        <datalist id="company-suggestions">
          {model.companies.value.map((company) => (
            <option key={company} value={company} />
          ))}
        </datalist>
      </div>
      <div class="field field-narrow">
        <label for="filter-min_score">Min score</label>
        <input type="text" inputMode="numeric" {...text("min_score")} />
        <FieldError id="filter-min_score-error" message={errors.min_score} />
      </div>
      <div class="field field-narrow">
        <label for="filter-max_score">Max score</label>
        <input type="text" inputMode="numeric" {...text("max_score")} />
        <FieldError id="filter-max_score-error" message={errors.max_score} />
      </div>
      <div class="field">
        <label for="filter-stage">Stage</label>
        <select
          id="filter-stage"
          value={filters.stage}
          onChange={(event) => model.setFilter("stage", (event.currentTarget as HTMLSelectElement).value as Stage | "")}
        >
          <option value="">Any stage</option>
          {STAGES.map((stage) => (
            <option key={stage} value={stage}>
              {stage}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="filter-sort">Sort</label>
        <select
          id="filter-sort"
          value={filters.sort}
          onChange={(event) => model.setFilter("sort", (event.currentTarget as HTMLSelectElement).value as LeadSort)}
        >
          {SORTS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      {model.filtered.value ? (
        <button type="button" class="button button-quiet" onClick={() => model.clearFilters()}>
          Clear filters
        </button>
      ) : null}
    </form>
  );
}

/** A column heading that sorts the table by its column, saying which way it sorts now. */
function SortHeader({
  model,
  column,
  label,
  class: className,
}: {
  model: LeadsModel;
  column: SortColumn;
  label: string;
  class?: string;
}) {
  const sort = model.filters.value.sort;
  const direction = sort === `-${column}` ? "descending" : sort === column ? "ascending" : undefined;
  return (
    <th scope="col" class={className} aria-sort={direction}>
      <button type="button" class="sort-header" onClick={() => model.sortBy(column)}>
        {label}
        <span class="sort-mark" aria-hidden="true">
          {direction === "descending" ? " ↓" : direction === "ascending" ? " ↑" : ""}
        </span>
      </button>
    </th>
  );
}

function Rows({ model, now }: { model: LeadsModel; now: number }) {
  const flashes = model.flashes.value;
  const sort = model.filters.value.sort;
  const order = sort.endsWith("updated_at")
    ? "by last update"
    : sort.endsWith("last_event_at")
      ? "by latest activity"
      : "by score";
  return (
    <div class="table-scroll">
      <table class="table leads-table">
        <caption class="sr-only">Leads, {order}</caption>
        <thead>
          <tr>
            <th scope="col">Lead</th>
            <th scope="col" class="col-optional">
              Company
            </th>
            <SortHeader model={model} column="score" label="Score" class="num" />
            <th scope="col">Stage</th>
            <th scope="col" class="num col-optional">
              Events
            </th>
            <SortHeader model={model} column="last_event_at" label="Latest activity" class="col-optional" />
            <SortHeader model={model} column="updated_at" label="Updated" class="col-optional" />
          </tr>
        </thead>
        <tbody>
          {model.rows.value.map((lead) => (
            <tr key={lead._id} class={flashes[lead._id] ? `flash flash-${flashes[lead._id]}` : undefined}>
              <td>
                <a href={leadHref(lead._id)} class="lead-link">
                  {lead.name || lead._id}
                </a>
                {lead.name ? <span class="muted lead-id">{lead._id}</span> : null}
              </td>
              <td class="col-optional">{lead.company || <span class="muted">—</span>}</td>
              <td class="num score-cell" data-testid="lead-score">
                {formatInteger(shownScore(lead.current_score))}
              </td>
              <td>
                <StageBadge stage={lead.stage} />
              </td>
              <td class="num col-optional">{formatInteger(lead.event_count)}</td>
              <td class="col-optional" data-testid="lead-activity">
                <Moment iso={lead.last_event_at} now={now} />
              </td>
              <td class="col-optional">
                <Moment iso={lead.updated_at} now={now} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A moment as its age ("3 min ago", or its date when older than a week), its full date and time on hover. */
function Moment({ iso, now }: { iso: string | null; now: number }) {
  return (
    <time dateTime={iso ?? undefined} title={iso ? formatDateTime(iso) : undefined}>
      {formatAge(iso, now)}
    </time>
  );
}

/** Saves the CSV of the current view as a file. */
async function download(model: LeadsModel) {
  const csv = await model.exportCsv();
  if (!csv) return;
  const url = URL.createObjectURL(csv);
  const link = document.createElement("a");
  link.href = url;
  link.download = "leads.csv";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function LeadTable({ model, now = Date.now() }: { model: LeadsModel; now?: number }) {
  useEffect(() => model.activate(), [model]);
  const status = model.status.value;
  const rows = model.leads.value;
  const total = model.total.value;
  return (
    <section class="panel" aria-labelledby="leads-title">
      <div class="panel-head">
        <h2 id="leads-title">Leads</h2>
        <p class="muted" aria-live="polite">
          {total !== null && status !== "error" ? `${formatInteger(total)} ${total === 1 ? "lead" : "leads"}` : ""}
        </p>
        <div class="panel-actions">
          <button
            type="button"
            class="button button-quiet filters-toggle"
            aria-expanded={model.filtersOpen.value}
            aria-controls="lead-filters"
            onClick={() => model.toggleFilters()}
          >
            Filters{model.filtered.value ? " (on)" : ""}
          </button>
          <button
            type="button"
            class="button button-quiet"
            disabled={model.exporting.value}
            onClick={() => void download(model)}
          >
            {model.exporting.value ? "Exporting…" : "Export CSV"}
          </button>
        </div>
      </div>
      {model.exportError.value ? <p class="field-error">Export failed: {model.exportError.value}</p> : null}
      {model.urlNotice.value ? (
        <div class="alert url-notice" role="status">
          <p>
            {model.urlNotice.value}{" "}
            <button type="button" class="button button-quiet" onClick={() => model.dismissUrlNotice()}>
              Dismiss
            </button>
          </p>
        </div>
      ) : null}
      <Filters model={model} />
      {status === "loading" && rows.length === 0 ? <Loading label="Loading leads…" /> : null}
      {status === "error" ? (
        <ErrorState
          title="The leads could not be loaded."
          message={model.error.value}
          onRetry={() => void model.reload()}
        />
      ) : null}
      {status !== "error" && rows.length > 0 ? <Rows model={model} now={now} /> : null}
      {status === "ready" && rows.length === 0 ? (
        <Empty>
          {model.filtered.value ? (
            <p>No lead matches these filters.</p>
          ) : (
            <p>
              No leads yet. <a href="/events/new">Send an event</a> and its lead appears here as soon as it is scored.
            </p>
          )}
        </Empty>
      ) : null}
      {model.hasNext.value || model.hasPrevious.value ? (
        <nav class="pager" aria-label="Pages of leads">
          <button
            type="button"
            class="button"
            disabled={!model.hasPrevious.value || status === "loading"}
            onClick={() => model.showPreviousPage()}
          >
            ← Previous
          </button>
          <span class="muted">Page {model.pageNumber.value}</span>
          <button
            type="button"
            class="button"
            disabled={!model.hasNext.value || status === "loading"}
            onClick={() => model.showNextPage()}
          >
            Next →
          </button>
        </nav>
      ) : null}
    </section>
  );
}
