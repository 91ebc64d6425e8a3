// Seeded randomness shared by the k6 scripts and the Node harness: a run can be replayed from its seed, and both
// drivers draw leads and event kinds from the same distributions.

/** A uniform generator on [0, 1). */
export type Random = () => number;

/** mulberry32: tiny, fast, and good enough to pick leads and event kinds; not for anything secret. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit FNV-1a hash, to derive per-process seeds from a run id. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Index of the first cumulative weight above `u` (binary search over a non-decreasing array ending at 1). */
function searchCumulative(cumulative: Float64Array, u: number): number {
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((cumulative[mid] as number) > u) high = mid;
    else low = mid + 1;
  }
  return low;
}

export interface ZipfSampler {
  /** A rank in [0, n): rank 0 is the hottest. */
  sample(): number;
  /** The exact probability of a rank, for tests and reports. */
  probability(rank: number): number;
}

/**
 * Zipf over `n` ranks with exponent `s`: P(rank k) ∝ 1 / (k + 1)^s. A few ranks take a large share of the draws
 * and a long tail takes the rest, like real leads (a handful of hot accounts among many cold ones).
 */
export function createZipf(n: number, s: number, random: Random): ZipfSampler {
  if (!Number.isInteger(n) || n < 1) throw new Error(`zipf: n must be a positive integer (got ${n})`);
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1) ** s;
    cumulative[k] = total;
  }
  for (let k = 0; k < n; k++) cumulative[k] = (cumulative[k] as number) / total;
  cumulative[n - 1] = 1;
  return {
    sample: () => searchCumulative(cumulative, random()),
    probability: (rank) => (rank < 0 || rank >= n ? 0 : 1 / (rank + 1) ** s / total),
  };
}

/** Picks one of `items` with probability proportional to its weight. */
export function createWeighted<T>(items: readonly (readonly [T, number])[], random: Random): () => T {
  if (items.length === 0) throw new Error("weighted: no items");
  const cumulative = new Float64Array(items.length);
  let total = 0;
  items.forEach(([, weight], index) => {
    if (!(weight >= 0)) throw new Error(`weighted: weight ${weight} is negative`);
    total += weight;
    cumulative[index] = total;
  });
  if (total <= 0) throw new Error("weighted: weights sum to 0");
  for (let i = 0; i < items.length; i++) cumulative[i] = (cumulative[i] as number) / total;
  cumulative[items.length - 1] = 1;
  return () => (items[searchCumulative(cumulative, random())] as readonly [T, number])[0];
}
