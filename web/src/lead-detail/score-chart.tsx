import { decayCurve, decayedScore, shownScore } from "../lib/decay.ts";
import { formatInteger, formatShortTime } from "../lib/format.ts";
import { type ChartSpan, type StageMark, stageMarks, type Thresholds } from "./model.ts";

const WIDTH = 600;
const HEIGHT = 200;
/** Room above and below the plot so marks on its edges are not cut. */
const INSET = 8;
const STAGE_LINES = ["warm", "hot", "qualified"] as const;
/** The decay curve is drawn as straight pieces about this wide (in the plot's 600 units). */
const CURVE_STEP = 4;

/** The smallest of 1, 2, 2.5 or 5 × 10^k that is at least `value`, so grid lines fall on round scores. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * The score over event time from the lead's whole history, one span per pixel column where its entries allow: a
 * score holds until the next event changes it; within a column the line runs from the first score through the lowest
 * and highest to the last, so no peak or dip is lost. A history page wider than a column (its entries are not in the
 * series) is a straight line from its first score to its last over a band of its lowest to highest. Lines mark where
 * each stage starts, dots when the lead entered it. The SVG stretches to any width; strokes keep their size
 * (non-scaling strokes, dots drawn as round line caps), and the labels are HTML so they stay legible on a phone.
 * With score decay (`decay`: the half-life and the instant shown), the score falls between events along its curve,
 * s · 2^(−(t − tᵢ)/H), and the chart runs on to that instant.
 */
export function ScoreChart({
  spans,
  thresholds,
  decay = null,
}: {
  spans: ChartSpan[];
  thresholds: Thresholds;
  decay?: { halfLife: number; now: number } | null;
}) {
  const first = spans[0];
  const last = spans[spans.length - 1];
  if (!first || !last) return null;
  const highest = Math.max(...spans.map((span) => span.max));
  const top = niceCeiling(Math.max(100, highest));
  const start = first.from;
  const end = decay ? Math.max(last.to, decay.now) : last.to;
  const range = end - start;
  const x = (at: number) => (range > 0 ? ((at - start) / range) * WIDTH : WIDTH / 2);
  const y = (score: number) => INSET + (1 - score / top) * (HEIGHT - 2 * INSET);
  const percent = (score: number) => `${(y(score) / HEIGHT) * 100}%`;
  const f = (value: number) => value.toFixed(1);

  /** The line from a score set at `from` to the instant `to`: level without decay, else down its decay curve. */
  const hold = (score: number, from: number, to: number) => {
    if (!decay || score === 0 || to <= from) return ` H ${f(x(to))}`;
    const points = decayCurve(score, from, to, decay.halfLife, (x(to) - x(from)) / CURVE_STEP).slice(1);
    return points.map((point) => ` L ${f(x(point.at))} ${f(y(point.score))}`).join("");
  };

  let path = `M 0 ${f(y(0))}`;
  const bands: string[] = [];
  let held = { score: 0, at: start };
  for (const span of spans) {
    const [from, to] = [x(span.from), x(span.to)];
    path += `${hold(held.score, held.at, span.from)} V ${f(y(span.first))}`;
    if (to - from > 1 && span.entries > 1) {
      // A page wider than a column: its lowest and highest hold somewhere over its range.
      path += ` L ${f(to)} ${f(y(span.last))}`;
      bands.push(`M ${f(from)} ${f(y(span.max))} H ${f(to)} V ${f(y(span.min))} H ${f(from)} Z`);
    } else {
      path += ` V ${f(y(span.min))} V ${f(y(span.max))} V ${f(y(span.last))} H ${f(to)}`;
    }
    held = { score: span.last, at: span.to };
  }
  path += range > 0 ? hold(held.score, held.at, end) : ` H ${WIDTH}`;
  const scoreNow = decay ? decayedScore(held.score, held.at, end, decay.halfLife) : last.last;

  const marks = stageMarks(spans, thresholds);
  const lines = STAGE_LINES.filter((stage) => thresholds[stage] <= top);
  const events = spans.reduce((sum, span) => sum + span.entries, 0);
  const counted = `${formatInteger(events)} ${events === 1 ? "event" : "events"}`;
  const entered = marks.map((mark) => `${mark.stage} ${formatShortTime(mark.at)}`).join(", ");
  const summary =
    `Score over time: ${counted} from ${formatShortTime(first.from)} to ${formatShortTime(end)}; ` +
    `score now ${formatInteger(shownScore(scoreNow))}, highest ${formatInteger(shownScore(highest))}` +
    `${entered ? `; entered ${entered}` : ""}.`;
  const dot = (mark: StageMark) => `M ${f(x(mark.at))} ${f(y(thresholds[mark.stage as keyof Thresholds] ?? 0))} h 0`;
  return (
    <figure class="chart">
      <div class="chart-plot">
        <div class="chart-y" aria-hidden="true">
          {[top, top / 2, 0].map((score) => (
            <span key={score} style={{ top: percent(score) }}>
              {formatInteger(score)}
            </span>
          ))}
        </div>
        <div class="chart-stages" aria-hidden="true">
          {lines.map((stage) => (
            <span key={stage} style={{ top: percent(thresholds[stage]) }}>
              {stage}
            </span>
          ))}
        </div>
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
          <title>{summary}</title>
          {[top, top / 2, 0].map((score) => (
            <line key={score} class="chart-grid" x1={0} x2={WIDTH} y1={y(score)} y2={y(score)} />
          ))}
          {lines.map((stage) => (
            <line
              key={stage}
              class={`chart-threshold chart-threshold-${stage}`}
              data-stage={stage}
              x1={0}
              x2={WIDTH}
              y1={y(thresholds[stage])}
              y2={y(thresholds[stage])}
            />
          ))}
          {bands.map((band) => (
            <path key={band} class="chart-band" d={band} />
          ))}
          <path class="chart-line" d={path} />
          {marks
            .filter((mark) => mark.stage !== "cold")
            .map((mark) => (
              <path key={`${mark.stage}-${mark.at}`} class="chart-stage-mark" data-stage={mark.stage} d={dot(mark)}>
                <title>{`Entered ${mark.stage}, ${formatShortTime(mark.at)}`}</title>
              </path>
            ))}
        </svg>
      </div>
      <div class="chart-x" aria-hidden="true">
        <span>{formatShortTime(first.from)}</span>
        {range > 0 ? <span>{formatShortTime(end)}</span> : null}
      </div>
      <figcaption class="muted">
        Score after each event, by event time, over the whole history (lowest and highest where several events share a
        point){decay ? ", falling between events as it decays, up to now" : ""}. Dashed lines: where warm, hot and
        qualified start; dots: when the lead entered each.
      </figcaption>
    </figure>
  );
}
