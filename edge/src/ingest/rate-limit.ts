interface Bucket {
  tokens: number;
  updated: number;
}

/**
 * Token buckets, one per name (a write key, a client address), refilled at `perSecond` with a burst of one
 * second's worth. In-process: each edge instance enforces the limit on its own share of the traffic.
 */
export function createRateLimiter(perSecond: number, now: () => number = Date.now, maxBuckets = 100_000) {
  const buckets = new Map<string, Bucket>();
  return {
    /** Takes `cost` tokens; returns 0 when allowed, else the seconds to wait before retrying. */
    take(name: string, cost = 1): number {
      const at = now();
      let bucket = buckets.get(name);
      if (!bucket) {
        // Bounded memory under address floods: forget the oldest buckets (they refill to full anyway).
        if (buckets.size >= maxBuckets) {
          const oldest = buckets.keys().next().value;
          if (oldest !== undefined) buckets.delete(oldest);
        }
        bucket = { tokens: perSecond, updated: at };
        buckets.set(name, bucket);
      } else {
        bucket.tokens = Math.min(perSecond, bucket.tokens + ((at - bucket.updated) / 1000) * perSecond);
        bucket.updated = at;
      }
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost;
        return 0;
      }
      return Math.max(1, Math.ceil((cost - bucket.tokens) / perSecond));
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
