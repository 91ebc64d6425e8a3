import { formatInteger, formatShortTime } from "../lib/format.ts";
import type { ChartPoint } from "./model.ts";

const WIDTH = 600;
const HEIGHT = 200;
/** Room above and below the plot so dots on its edges are not cut. */
const INSET = 8;

/** The smallest of 1, 2, 2.5 or 5 × 10^k that is at least `value`, so grid lines fall on round scores. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * The score as a step line over event time: a score holds until the next point changes it. `sampled`: older events
 * are represented by one point every so many events, so the summary speaks of points, not events. The SVG stretches
 * to any width; strokes and dots keep their size (non-scaling strokes, dots drawn as round line caps), and the labels
 * are HTML so they stay legible on a phone.
 */
export function ScoreChart({ points, sampled, events }: { points: ChartPoint[]; sampled: boolean; events: number }) {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return null;
  const highest = Math.max(...points.map((point) => point.score));
  const top = niceCeiling(Math.max(100, highest));
  const span = last.t - first.t;
  // Events at one instant (or a single event) are spread by position instead of time.
  const x = (point: ChartPoint, index: number) =>
    span > 0
      ? ((point.t - first.t) / span) * WIDTH
      : points.length > 1
        ? (index / (points.length - 1)) * WIDTH
        : WIDTH / 2;
  const y = (score: number) => INSET + (1 - score / top) * (HEIGHT - 2 * INSET);
  const percent = (score: number) => `${(y(score) / HEIGHT) * 100}%`;

  let path = `M 0 ${y(0)}`;
  points.forEach((point, index) => {
    path += ` H ${x(point, index).toFixed(1)} V ${y(point.score).toFixed(1)}`;
  });
  path += ` H ${WIDTH}`;

  const counted = `${formatInteger(events)} ${events === 1 ? "event" : "events"}`;
  const plotted = sampled ? ` (${formatInteger(points.length)} points plotted: older events sampled)` : "";
  const summary = `Score over time: ${counted} from ${formatShortTime(first.t)} to ${formatShortTime(last.t)}${plotted}; score now ${formatInteger(last.score)}, highest ${sampled ? "plotted " : ""}${formatInteger(highest)}.`;
  const dot = (point: ChartPoint, index: number) => `M ${x(point, index).toFixed(1)} ${y(point.score).toFixed(1)} h 0`;
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
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
          <title>{summary}</title>
          {[top, top / 2, 0].map((score) => (
            <line key={score} class="chart-grid" x1={0} x2={WIDTH} y1={y(score)} y2={y(score)} />
          ))}
          <path class="chart-line" d={path} />
          {points.map((point, index) => (
            <path key={`${point.t}-${index}`} class="chart-dot" d={dot(point, index)} />
          ))}
        </svg>
      </div>
      <div class="chart-x" aria-hidden="true">
        <span>{formatShortTime(first.t)}</span>
        {span > 0 ? <span>{formatShortTime(last.t)}</span> : null}
      </div>
      <figcaption class="muted">
        {sampled
          ? `Score by event time over all ${counted}: after each recent one, and sampled over older ones.`
          : "Score after each event, by event time."}
      </figcaption>
    </figure>
  );
}
