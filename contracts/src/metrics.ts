// Figures shared by the processes' own metrics, the benchmarks and the load harness.

/** The value at quantile `q` (0..1) of ascending `sorted`, nearest-rank; NaN when there is none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
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
      return [
        `# HELP ${name} ${help}`,
        `# TYPE ${name} histogram`,
        ...buckets.map((bound, i) => {
          cumulative += counts[i] ?? 0;
          return `${name}_bucket{le="${bound}"} ${cumulative}`;
        }),
        `${name}_bucket{le="+Inf"} ${count}`,
        `${name}_sum ${sum}`,
        `${name}_count ${count}`,
      ];
    },
  };
}
export type Histogram = ReturnType<typeof createHistogram>;
