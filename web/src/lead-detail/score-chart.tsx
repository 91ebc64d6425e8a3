import { formatInteger, formatShortTime } from "../lib/format.ts";
import type { ChartPoint } from "./model.ts";

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { top: 16, right: 16, bottom: 28, left: 44 };

/** The score as a step line over event time: a score holds until the next event changes it. */
export function ScoreChart({ points }: { points: ChartPoint[] }) {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return null;
  const maxScore = Math.max(100, ...points.map((point) => point.score));
  const span = last.t - first.t;
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  // Events at one instant (or a single event) are spread by position instead of time.
  const x = (point: ChartPoint, index: number) =>
    PAD.left +
    (span > 0
      ? ((point.t - first.t) / span) * innerW
      : points.length > 1
        ? (index / (points.length - 1)) * innerW
        : innerW);
  const y = (score: number) => PAD.top + innerH - (score / maxScore) * innerH;

  let path = `M ${PAD.left} ${y(0)}`;
  points.forEach((point, index) => {
    path += ` H ${x(point, index).toFixed(1)} V ${y(point.score).toFixed(1)}`;
  });
  path += ` H ${PAD.left + innerW}`;

  const summary = `Score over time: ${points.length} ${points.length === 1 ? "event" : "events"} from ${formatShortTime(first.t)} to ${formatShortTime(last.t)}; score now ${formatInteger(last.score)}, highest ${formatInteger(Math.max(...points.map((point) => point.score)))}.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} preserveAspectRatio="none">
        <title>{summary}</title>
        {[0, 0.5, 1].map((fraction) => (
          <g key={fraction} class="chart-grid">
            <line x1={PAD.left} x2={PAD.left + innerW} y1={y(maxScore * fraction)} y2={y(maxScore * fraction)} />
            <text x={PAD.left - 6} y={y(maxScore * fraction) + 4} text-anchor="end">
              {formatInteger(maxScore * fraction)}
            </text>
          </g>
        ))}
        <path class="chart-line" d={path} />
        {points.map((point, index) => (
          <circle
            key={index}
            class={point.late ? "chart-dot chart-dot-late" : "chart-dot"}
            cx={x(point, index)}
            cy={y(point.score)}
            r={point.late ? 4.5 : 3}
          />
        ))}
        <text class="chart-axis" x={PAD.left} y={HEIGHT - 8}>
          {formatShortTime(first.t)}
        </text>
        <text class="chart-axis" x={PAD.left + innerW} y={HEIGHT - 8} text-anchor="end">
          {formatShortTime(last.t)}
        </text>
      </svg>
      <figcaption class="muted">
        Score after each event, by event time{points.some((point) => point.late) ? "; ringed dots arrived late" : ""}.
      </figcaption>
    </figure>
  );
}
