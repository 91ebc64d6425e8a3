import { useEffect } from "preact/hooks";
import { ErrorState } from "../app/ui.tsx";
import { formatDecimal, formatInteger, formatSeconds, STAGES } from "../lib/format.ts";
import type { HeadlineModel } from "./model.ts";

function Figure({ label, value, note }: { label: string; value: string; note?: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>
        <span class="figure-value">{value}</span>
        {note ? <span class="figure-note">{note}</span> : null}
      </dd>
    </div>
  );
}

export function Headline({ model }: { model: HeadlineModel }) {
  useEffect(() => model.activate(), [model]);
  const leads = model.leads.value;
  const ingest = model.ingest.value;
  const status = model.status.value;

  if (status === "error") {
    return (
      <section aria-labelledby="headline-title">
        <h2 id="headline-title" class="sr-only">
          Headline figures
        </h2>
        <ErrorState
          title="The figures could not be loaded."
          message={model.error.value}
          onRetry={() => void model.refresh()}
        />
      </section>
    );
  }
  const dash = status === "loading" ? "…" : "—";
  const sampled = leads !== null && leads.averageOver < leads.total;
  return (
    <section aria-labelledby="headline-title" aria-busy={status === "loading"}>
      <h2 id="headline-title" class="sr-only">
        Headline figures
      </h2>
      <dl class="figures">
        <Figure
          label="Leads"
          value={leads ? formatInteger(leads.total) : dash}
          note={
            leads
              ? STAGES.map((stage) => `${formatInteger(leads.byStage[stage] ?? 0)} ${stage}`).join(" · ")
              : undefined
          }
        />
        <Figure
          label="Average score"
          value={leads?.averageScore != null ? formatDecimal(leads.averageScore) : dash}
          note={
            sampled
              ? `of the ${formatInteger(leads.averageOver)} most recently updated`
              : leads
                ? "all leads"
                : undefined
          }
        />
        {model.metricsAvailable.value ? (
          <>
            <Figure
              label="Events accepted"
              value={ingest?.accepted != null ? formatInteger(ingest.accepted) : dash}
              note={ingest?.accepted != null ? "since this edge process started" : "not reported"}
            />
            <Figure
              label="Queue depth"
              value={ingest?.queueDepth != null ? formatInteger(ingest.queueDepth) : dash}
              note={ingest?.queueDepth != null ? "events waiting to be scored" : "not reported"}
            />
            <Figure
              label="Queue lag"
              value={ingest?.lagSeconds != null ? formatSeconds(ingest.lagSeconds) : dash}
              note={ingest?.lagSeconds != null ? "oldest event waiting to be scored" : "not reported"}
            />
          </>
        ) : (
          <Figure
            label="Ingestion"
            value={dash}
            note={
              status === "loading" ? undefined : "accepted events, queue depth and lag appear when /metrics answers"
            }
          />
        )}
      </dl>
    </section>
  );
}
