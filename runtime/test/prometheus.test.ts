import { describe, expect, it } from "vitest";
import {
  byLabel,
  counterLines,
  createHistogram,
  gaugeLines,
  histogramAtMost,
  histogramOf,
  histogramQuantile,
  histogramSince,
  parsePrometheus,
  prometheusText,
  summaryLines,
} from "../src/prometheus.ts";

describe("writing Prometheus text", () => {
  it("writes a counter's HELP, TYPE and value", () => {
    expect(counterLines("jobs_total", "Jobs done.", 3)).toEqual([
      "# HELP jobs_total Jobs done.",
      "# TYPE jobs_total counter",
      "jobs_total 3",
    ]);
  });

  it("writes one line per label value, and only the comments when there is none yet", () => {
    expect(
      gaugeLines(
        "queue",
        "Jobs by state.",
        byLabel("state", [
          ["wait", 2],
          ["active", 0],
        ]),
      ).slice(2),
    ).toEqual(['queue{state="wait"} 2', 'queue{state="active"} 0']);
    expect(counterLines("rejected_total", "Refused.", byLabel("reason", new Map()))).toHaveLength(2);
  });

  it("escapes label values so that they read back as written", () => {
    const text = prometheusText(gaugeLines("odd", "Odd labels.", [{ labels: { path: 'a"b\\c\nd' }, value: 1 }]));
    expect(text).toContain('odd{path="a\\"b\\\\c\\nd"} 1\n');
    expect(parsePrometheus(text)).toEqual([{ name: "odd", labels: { path: 'a"b\\c\nd' }, value: 1 }]);
  });

  it("spells values that are not finite as Prometheus does", () => {
    expect(gaugeLines("backlog", "Backlog.", Number.NaN)[2]).toBe("backlog NaN");
    expect(gaugeLines("top", "Top.", Number.POSITIVE_INFINITY)[2]).toBe("top +Inf");
  });

  it("writes a summary's sum and count", () => {
    expect(summaryLines("batch_seconds", "Batch time.", 1.5, 3).slice(1)).toEqual([
      "# TYPE batch_seconds summary",
      "batch_seconds_sum 1.5",
      "batch_seconds_count 3",
    ]);
  });

  it("writes a histogram's cumulative buckets, sum and count", () => {
    const histogram = createHistogram("lag_seconds", "Lag.", [0.1, 1]);
    for (const value of [0.0625, 0.5, 0.75, 5]) histogram.observe(value);
    expect(histogram.lines()).toEqual([
      "# HELP lag_seconds Lag.",
      "# TYPE lag_seconds histogram",
      'lag_seconds_bucket{le="0.1"} 1',
      'lag_seconds_bucket{le="1"} 3',
      'lag_seconds_bucket{le="+Inf"} 4',
      "lag_seconds_sum 6.3125",
      "lag_seconds_count 4",
    ]);
  });

  it("ends every line of a page with a newline, so pages can be read back", () => {
    const text = prometheusText([...counterLines("a_total", "A.", 1), ...gaugeLines("b", "B.", 2)]);
    expect(text.endsWith("2\n")).toBe(true);
    expect(parsePrometheus(text).map(({ name, value }) => [name, value])).toEqual([
      ["a_total", 1],
      ["b", 2],
    ]);
  });

  it("reads a histogram back: what it recorded between two pages, its quantiles and its share under a bound", () => {
    const histogram = createHistogram("lag_seconds", "Lag.", [0.1, 0.5, 1, 2]);
    for (const value of [0.05, 0.3]) histogram.observe(value);
    const earlier = histogramOf(parsePrometheus(prometheusText(histogram.lines())), "lag_seconds");
    for (const value of [0.05, 0.05, 0.2, 0.4, 0.7, 1.5, 1.5, 3]) histogram.observe(value);
    const later = histogramOf(parsePrometheus(prometheusText(histogram.lines())), "lag_seconds");
    const since = histogramSince(later, earlier);
    expect(since).toEqual({ bounds: [0.1, 0.5, 1, 2], cumulative: [2, 4, 5, 7], count: 8 });
    // Half of 8 is the 4th: the last of the (0.1, 0.5] bucket.
    expect(histogramQuantile(since, 0.5)).toBe(0.5);
    // The 2nd of the 2 in (1, 2] is at its top, the 1st halfway: linear within the bucket.
    expect(histogramQuantile(since, 7 / 8)).toBe(2);
    expect(histogramQuantile(since, 6 / 8)).toBe(1.5);
    // Above the last bound (the 3 s one), and when observations are known but not yet recorded.
    expect(histogramQuantile(since, 0.99)).toBeNull();
    expect(histogramQuantile(since, 0.5, 20)).toBeNull();
    expect(histogramAtMost(since, 1)).toBe(5);
  });
});
