// Figures shared by the processes' own metrics, the benchmarks and the load harness (Prometheus text: prometheus.ts).

/** The value at quantile `q` (0..1) of ascending `sorted`, nearest-rank; NaN when there is none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}
