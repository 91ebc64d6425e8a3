// @vitest-environment happy-dom
import "preact/debug";
import { cleanup, render } from "@testing-library/preact";
import { afterEach, describe, expect, it } from "vitest";
import type { ChartSpan } from "../src/lead-detail/model.ts";
import { ScoreChart } from "../src/lead-detail/score-chart.tsx";

const THRESHOLDS = { warm: 100, hot: 300, qualified: 600 };
const T0 = Date.parse("2026-03-01T12:00:00.000Z");
const span = (at: number, before: number, after: number): ChartSpan => ({
  from: at,
  to: at,
  first: after,
  last: after,
  min: Math.min(before, after),
  max: Math.max(before, after),
  entries: 1,
});

/** The chart line's points as [x, y] in the plot's units (600 × 200, 8 above and below). */
function linePoints(container: Element): [number, number][] {
  const d = container.querySelector(".chart-line")?.getAttribute("d") ?? "";
  const points: [number, number][] = [];
  let x = 0;
  let y = 0;
  for (const [, command, args] of d.matchAll(/([MHVL])\s*([-\d.\s]+)/g)) {
    const values = (args as string).trim().split(/\s+/).map(Number);
    if (command === "H") x = values[0] as number;
    else if (command === "V") y = values[0] as number;
    else [x, y] = values as [number, number];
    points.push([x, y]);
  }
  return points;
}

const scoreAt = (y: number, top: number) => ((200 - 8 - y) / (200 - 16)) * top;

describe("the score chart with decay", () => {
  afterEach(cleanup);

  // 400 at T0, then +100 at T0 + 10 s (the score having decayed to 100 by then at H = 5 s: 200 after), now T0 + 15 s.
  const spans = [span(T0, 0, 400), span(T0 + 10_000, 100, 200)];

  it("draws the score falling along its curve between events and on to now", () => {
    const { container } = render(
      <ScoreChart spans={spans} thresholds={THRESHOLDS} decay={{ halfLife: 5, now: T0 + 15_000 }} />,
    );
    const points = linePoints(container);
    const top = 500; // the chart's ceiling above 400
    // Halfway between the events (x = 200 of 600 over 15 s) the curve is at 400 · 2^(−5/5) = 200.
    const half = points.find(([x]) => Math.abs(x - 200) < 0.05);
    expect(half).toBeDefined();
    expect(scoreAt(half?.[1] as number, top)).toBeCloseTo(200, 0);
    // Just before the second event it has fallen to 100; after it, it starts again from 200 and ends at 100 now.
    const last = points.at(-1) as [number, number];
    expect(last[0]).toBeCloseTo(600, 1);
    expect(scoreAt(last[1], top)).toBeCloseTo(100, 0);
    expect(container.querySelector("svg")?.getAttribute("aria-label")).toMatch(/score now 100\b/);
    // Many short pieces, not one level line per gap.
    expect(points.length).toBeGreaterThan(100);
  });

  it("keeps each score level until the next event without decay", () => {
    const { container } = render(<ScoreChart spans={spans} thresholds={THRESHOLDS} />);
    const points = linePoints(container);
    const levels = new Set(points.slice(1).map(([, y]) => y.toFixed(1)));
    expect(levels.size).toBeLessThanOrEqual(4);
    expect(container.querySelector("svg")?.getAttribute("aria-label")).toMatch(/score now 200\b/);
  });
});
