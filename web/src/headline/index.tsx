import type { Stage } from "@leadscore/contracts";
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import { ErrorState } from "../app/ui.tsx";
import type { Stats } from "../lib/api.ts";
import { formatInteger } from "../lib/format.ts";
import type { FunnelStep, HeadlineModel } from "./model.ts";

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div class="figure">
      <dt>{label}</dt>
      <dd>
        <span class="figure-value">{value}</span>
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

/** A score range of the table's filters, as the histogram's bars set it. */
export interface ScoreRange {
  from: number;
  to: number;
}

/**
 * Leads per score range: a bar each, its count above it, heights on a square-root scale so that a few leads still
 * show beside many. A bar is a button that shows only its range in the table (pressed again: every score).
 */
function Distribution(props: {
  histogram: Stats["score_histogram"];
  selected: ScoreRange | null;
  onRange: (range: ScoreRange | null) => void;
}) {
  const { histogram, selected } = props;
  const highest = Math.max(1, ...histogram.map((bucket) => bucket.count));
  return (
    <fieldset class="histogram">
      <legend class="sr-only">Score distribution</legend>
      <ol class="histogram-bars">
        {histogram.map((bucket) => {
          const pressed = selected?.from === bucket.from && selected.to === bucket.to;
          const height = bucket.count === 0 ? 0 : Math.max(6, Math.sqrt(bucket.count / highest) * 100);
          return (
            <li key={bucket.from} class="histogram-item">
              <button
                type="button"
                class="histogram-bar"
                aria-pressed={pressed}
                aria-label={`Scores ${bucket.from}–${bucket.to}: ${formatInteger(bucket.count)} ${bucket.count === 1 ? "lead" : "leads"}`}
                title={pressed ? "Show every score" : `Show only scores ${bucket.from}–${bucket.to}`}
                onClick={() => props.onRange(pressed ? null : { from: bucket.from, to: bucket.to })}
              >
                <span class="histogram-count">{formatInteger(bucket.count)}</span>
                <span class="histogram-fill" style={{ height: `${height}%` }} />
              </button>
            </li>
          );
        })}
      </ol>
      <span class="histogram-axis" aria-hidden="true">
        <span>0</span>
        <span>{histogram.at(-1)?.to ?? ""}</span>
      </span>
    </fieldset>
  );
}

export function Headline(props: {
  model: HeadlineModel;
  selectedStage: Stage | "";
  onStage: (stage: Stage | "") => void;
  selectedRange: ScoreRange | null;
  onRange: (range: ScoreRange | null) => void;
  /** What changed today, shown under the figures (the dashboard's link to the "Today" page). */
  today?: ComponentChildren;
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
        <Figure label="Events received, last 24 h" value={stats ? formatInteger(stats.events_24h) : dash} />
        <Figure label="Events scored, last 24 h" value={stats ? formatInteger(stats.scored_24h) : dash} />
      </dl>
      {props.today}
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
          <Distribution histogram={stats.score_histogram} selected={props.selectedRange} onRange={props.onRange} />
        </div>
      ) : null}
    </section>
  );
}
