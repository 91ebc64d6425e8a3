// The Prometheus text exposition format, both ways: the one writer of every process's `/metrics` page (counters,
// gauges, summaries, histograms), and just enough of a reader to take figures off such a page (the load harness,
// benchmarks, tests). Its own entry point, so a browser bundle can take it without the rest of contracts.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text into samples; comments and malformed lines are skipped. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = line.match(SAMPLE);
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? "").matchAll(LABEL)) {
      labels[label[1] as string] = (label[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

/** Sum of a metric over its label sets, or null when it is absent. */
export function sumOf(samples: readonly Sample[], name: string): number | null {
  const matching = samples.filter((sample) => sample.name === name);
  if (matching.length === 0) return null;
  return matching.reduce((sum, sample) => sum + sample.value, 0);
}

export type MetricType = "counter" | "gauge" | "summary" | "histogram";

/** One sample of a metric family: `suffix` extends the family's name (`_sum`, `_bucket`). */
export interface SeriesSample {
  labels?: Readonly<Record<string, string>>;
  value: number;
  suffix?: string;
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

const escapeLabel = (value: string) => value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return "";
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/**
 * One metric family as lines of Prometheus text: its HELP and TYPE lines, then one line per sample (a bare number is
 * one sample without labels; an empty list leaves only the two comment lines, as for a counter nothing has hit yet).
 */
export function metricLines(
  type: MetricType,
  name: string,
  help: string,
  samples: number | readonly SeriesSample[],
): string[] {
  const series = typeof samples === "number" ? [{ value: samples }] : samples;
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...series.map(
      (sample) => `${name}${sample.suffix ?? ""}${formatLabels(sample.labels)} ${formatValue(sample.value)}`,
    ),
  ];
}

export const counterLines = (name: string, help: string, samples: number | readonly SeriesSample[]) =>
  metricLines("counter", name, help, samples);

export const gaugeLines = (name: string, help: string, samples: number | readonly SeriesSample[]) =>
  metricLines("gauge", name, help, samples);

/** A summary of only its sum and count (no quantiles). */
export const summaryLines = (name: string, help: string, sum: number, count: number) =>
  metricLines("summary", name, help, [
    { suffix: "_sum", value: sum },
    { suffix: "_count", value: count },
  ]);

/** One sample per entry, the key as the value of `label`: `byLabel("outcome", [["completed", 3]])`. */
export function byLabel(label: string, entries: Iterable<readonly [string, number]>): SeriesSample[] {
  return Array.from(entries, ([key, value]) => ({ labels: { [label]: key }, value }));
}

/** The page of a `/metrics` answer: the families' lines, each ended by a newline. */
export function prometheusText(lines: readonly string[]): string {
  return `${lines.join("\n")}\n`;
}

/** A Prometheus histogram of one series: observations counted into cumulative `le` buckets, plus sum and count. */
export function createHistogram(name: string, help: string, buckets: readonly number[]) {
  const counts = new Array<number>(buckets.length).fill(0);
  let count = 0;
  let sum = 0;
  return {
    observe(value: number) {
      count += 1;
      sum += value;
      const bucket = buckets.findIndex((bound) => value <= bound);
      if (bucket !== -1) counts[bucket] = (counts[bucket] ?? 0) + 1;
    },
    /** Its lines of Prometheus text. */
    lines(): string[] {
      let cumulative = 0;
      return metricLines("histogram", name, help, [
        ...buckets.map((bound, i) => {
          cumulative += counts[i] ?? 0;
          return { suffix: "_bucket", labels: { le: String(bound) }, value: cumulative };
        }),
        { suffix: "_bucket", labels: { le: "+Inf" }, value: count },
        { suffix: "_sum", value: sum },
        { suffix: "_count", value: count },
      ]);
    },
  };
}

/** A histogram read off a page: its bucket bounds (ascending, without +Inf), their cumulative counts, and its count. */
export interface HistogramReading {
  bounds: number[];
  cumulative: number[];
  count: number;
}

/** The histogram `name` (its `_bucket` and `_count` samples, summed over other labels); empty when absent. */
export function histogramOf(samples: readonly Sample[], name: string): HistogramReading {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket` || sample.labels.le === undefined || sample.labels.le === "+Inf") continue;
    const bound = Number(sample.labels.le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return {
    bounds,
    cumulative: bounds.map((bound) => byBound.get(bound) ?? 0),
    count: sumOf(samples, `${name}_count`) ?? 0,
  };
}

/** What a histogram recorded between two readings of it (`later` minus `earlier`, bucket by bucket). */
export function histogramSince(later: HistogramReading, earlier: HistogramReading): HistogramReading {
  return {
    bounds: later.bounds,
    cumulative: later.cumulative.map((value, i) => value - (earlier.cumulative[i] ?? 0)),
    count: later.count - earlier.count,
  };
}

/**
 * The q-quantile of a histogram, linear within its bucket, out of `total` observations (default: its count; more
 * when some are known but not yet recorded, which then count as above every bucket). Null when it falls above the
 * last bound.
 */
export function histogramQuantile(histogram: HistogramReading, q: number, total = histogram.count): number | null {
  const { bounds, cumulative } = histogram;
  const rank = q * total;
  for (let i = 0; i < cumulative.length; i += 1) {
    if ((cumulative[i] ?? 0) >= rank) {
      const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
      const upper = bounds[i] ?? lower;
      const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0);
      const inBucket = (cumulative[i] ?? 0) - below;
      return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return null;
}

/** Observations at or below `bound` (which must be one of the histogram's bounds). */
export function histogramAtMost(histogram: HistogramReading, bound: number): number {
  const index = histogram.bounds.indexOf(bound);
  return index === -1 ? Number.NaN : (histogram.cumulative[index] ?? 0);
}
