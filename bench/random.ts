/** Deterministic pseudo-random numbers (a 32-bit LCG), so every bench run generates the same data. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Lead ranks drawn by Zipf's law: rank r (0-based) with weight 1 / (r + 1)^s. */
export function zipf(leads: number, exponent: number, random: () => number): () => number {
  const cdf = new Float64Array(leads);
  let sum = 0;
  for (let r = 0; r < leads; r += 1) {
    sum += 1 / (r + 1) ** exponent;
    cdf[r] = sum;
  }
  return () => {
    const roll = random() * sum;
    let [lo, hi] = [0, leads - 1];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) < roll) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
