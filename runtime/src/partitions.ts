// Lead partitions (docs/partitions.md). A deployment with `LEAD_PARTITIONS = P` spreads its leads over P hash tags,
// each holding one partition's queue, live state, indexes, outbox and share of the de-duplication window, so one
// commit stays one script call in one slot while different partitions land on different masters of a Redis Cluster.
// Which partition a lead is in is `leadPartition`: the edge, the worker and every reader compute it alike.
//
// P = 1 is the layout of a deployment without partitions, key for key: its one partition's prefix is REDIS_PREFIX.

/** FNV-1a, 32 bits, over the id's UTF-16 code units (ids are ASCII: one per character). Stable across processes. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The partition (0 … P−1) that holds `leadId`'s keys. */
export function leadPartition(leadId: string, partitions: number): number {
  return partitions <= 1 ? 0 : fnv1a32(leadId) % partitions;
}

/** Redis Cluster's slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key without one, mod 16384. */
export function keySlot(key: string): number {
  const open = key.indexOf("{");
  let hashed = key;
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of new TextEncoder().encode(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

const SLOTS = 16384;
/**
 * Slots kept clear of each share's ends: `redis-cli --cluster create` rounds its masters' ranges, so a tag on the very
 * edge of a share could land on the neighbouring master.
 */
const EDGE = 2;
const prefixCache = new Map<string, readonly string[]>();

/**
 * The key prefix of each partition: `[REDIS_PREFIX]` for one partition; else partition `p`'s hash tag
 * `{<prefix>:p<p>.<s>}`, salted with the smallest `s` whose slot lies inside the `p`-th of P equal slot ranges (clear of its ends), so that
 * with the even ranges `redis-cli --cluster create` assigns, P a multiple of the masters spreads them evenly. It
 * depends on the prefix and P only, never on the running cluster.
 */
export function partitionPrefixes(prefix: string, partitions: number): readonly string[] {
  if (partitions <= 1) return [prefix];
  const cached = prefixCache.get(`${partitions}|${prefix}`);
  if (cached) return cached;
  const base = prefix.replace(/[{}]/g, "");
  const prefixes = Array.from({ length: partitions }, (_, p) => {
    const low = Math.ceil((p * SLOTS) / partitions) + EDGE;
    const high = Math.floor(((p + 1) * SLOTS) / partitions) - EDGE;
    for (let salt = 0; ; salt++) {
      const tag = `{${base}:p${p}.${salt}}`;
      const slot = keySlot(tag);
      if (slot >= low && slot < high) return tag;
    }
  });
  prefixCache.set(`${partitions}|${prefix}`, prefixes);
  return prefixes;
}

/** The partitions a worker consumes: the ones `LEAD_PARTITIONS_CONSUMED` names, or all of them. */
export function consumedPartitions(partitions: number, named: readonly number[]): number[] {
  const all = Array.from({ length: partitions }, (_, p) => p);
  return named.length === 0 ? all : all.filter((p) => named.includes(p));
}
