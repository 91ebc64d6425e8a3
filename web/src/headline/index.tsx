import type { Stage } from "@leadscore/contracts";
import { useEffect } from "preact/hooks";
import { ErrorState } from "../app/ui.tsx";
import type { Stats } from "../lib/api.ts";
import { formatInteger } from "../lib/format.ts";
import type { FunnelStep, HeadlineModel } from "./model.ts";

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

const percent = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 0 });

function Funnel(props: { steps: FunnelStep[]; selected: Stage | ""; onStage: (stage: Stage | "") => void }) {
  return (
    <ol class="funnel" aria-label="Stage funnel">
      {props.steps.map((step, index) => {
        const pressed = props.selected === step.stage;
        const next = props.steps[index + 1];
        return (
          <li key={step.stage} class="funnel-item">
            <button
              type="button"
              class={`funnel-step stage-${step.stage}`}
              aria-pressed={pressed}
              title={pressed ? "Show every stage" : `Show only ${step.stage} leads`}
              onClick={() => props.onStage(pressed ? "" : step.stage)}
            >
              <span class="funnel-stage">{step.stage}</span>
              <span class="funnel-count">{formatInteger(step.count)}</span>
            </button>
            {step.onward !== null && next ? (
              <span class="funnel-onward muted">
                → {percent.format(step.onward)} reach {next.stage}
              </span>
            ) : null}
          </li>
        );
      })}
    </ol>
  );
}

function Distribution({ histogram }: { histogram: Stats["score_histogram"] }) {
  const highest = Math.max(1, ...histogram.map((bucket) => bucket.count));
  const label = `Score distribution: ${histogram
    .map((bucket) => `${bucket.from}–${bucket.to}: ${formatInteger(bucket.count)}`)
    .join(", ")} leads`;
  return (
    <div class="histogram" role="img" aria-label={label}>
      {histogram.map((bucket) => (
        <span
          key={bucket.from}
          class="histogram-bar"
          title={`${bucket.from}–${bucket.to}: ${formatInteger(bucket.count)}`}
          style={{ height: `${Math.max(bucket.count > 0 ? 4 : 1, (bucket.count / highest) * 100)}%` }}
        />
      ))}
      <span class="histogram-axis" aria-hidden="true">
        <span>0</span>
        <span>{histogram.at(-1)?.to ?? ""}</span>
      </span>
    </div>
  );
}

export function Headline(props: {
  model: HeadlineModel;
  selectedStage: Stage | "";
  onStage: (stage: Stage | "") => void;
}) {
  const { model } = props;
  useEffect(() => model.activate(), [model]);
  const stats = model.stats.value;
  const status = model.status.value;

  if (status === "error") {
    return (
      <section aria-labelledby="headline-title" class="headline">
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
  return (
    <section aria-labelledby="headline-title" aria-busy={status === "loading"} class="headline">
      <h2 id="headline-title" class="sr-only">
        Headline figures
      </h2>
      <dl class="figures">
        <Figure label="Leads" value={stats ? formatInteger(stats.leads) : dash} />
        <Figure
          label="Events, last 24 h"
          value={stats ? formatInteger(stats.events_24h) : dash}
          note="accepted by the edge"
        />
        <Figure
          label="Scored, last 24 h"
          value={stats ? formatInteger(stats.scored_24h) : dash}
          note="by the workers"
        />
      </dl>
      {model.deadLetters.value > 0 ? (
        <p class="alert alert-error dead-letters" role="status">
          {model.deadLetters.value === 1
            ? "1 event in the last 24 h was refused by the store and not scored"
            : `${formatInteger(model.deadLetters.value)} events in the last 24 h were refused by the store and not scored`}
          ; an admin lists them at <code>GET /api/dead-letters</code>.
        </p>
      ) : null}
      {stats ? (
        <div class="headline-charts">
          <Funnel steps={model.funnel.value} selected={props.selectedStage} onStage={props.onStage} />
          <Distribution histogram={stats.score_histogram} />
        </div>
      ) : null}
    </section>
  );
}
