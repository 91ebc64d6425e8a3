import type { Redis } from "ioredis";

/**
 * Where the edge's de-duplication window keeps an event id: one field of one small Redis hash ("bucket"). An id is
 * hashed three ways: one hash picks its bucket (modulo the bucket count), 53 bits of the other two name its field,
 * written in decimal, which Redis stores as an 8-byte integer inside the bucket's listpack. A field's value is the
 * second its mark expires (negative while the claim is pending), counted from `DEDUPE_EPOCH_SECONDS`.
 *
 * Two different ids share a slot only if the field's 53 bits and the bucket agree. With the bucket count sized as
 * advised (events per window / 100), n ids in one window collide with a chance of about n · 100 / 2^54: 10^-7 at
 * 10 million, 10^-6 at 170 million (2,000 events/s over 24 h). docs/ingestion.md says what a collision does.
 */
export interface DedupeSlot {
  /** The bucket: a Redis hash. */
  key: string;
  /** The id's field in it. */
  field: string;
  /** The lead partition whose hash tag the bucket carries (`bucket mod P`; 0 without partitions). */
  partition: number;
}

/** Second 0 of the marks' clock (2026-01-01T00:00:00Z): keeps the stored times within 32 bits for a century. */
export const DEDUPE_EPOCH_SECONDS = 1_767_225_600;

/** The Redis key of one bucket of the de-duplication window. */
export function dedupeBucketKey(prefix: string, bucket: number): string {
  return `${prefix}:dd:${bucket}`;
}

/**
 * The bucket and field that hold `eventId`'s mark, with `buckets` buckets. Given the partitions' prefixes
 * (`partitionPrefixes`), bucket `b` sits in partition `b mod P`: the window follows the event id, whatever its lead.
 */
export function dedupeSlot(prefix: string | readonly string[], eventId: string, buckets: number): DedupeSlot {
  // Three MurmurHash3-style lanes in one pass over the id's UTF-16 code units (event ids are ASCII: one per
  // character), each with its own seed; then each lane's finalizer.
  let a = 0x9747b28c;
  let b = 0x5bd1e995;
  let c = 0x1b873593;
  for (let i = 0; i < eventId.length; i++) {
    let k = Math.imul(eventId.charCodeAt(i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    a ^= k;
    a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
    b ^= k;
    b = (Math.imul((b << 11) | (b >>> 21), 5) + 0x52dce729) | 0;
    c ^= k;
    c = (Math.imul((c << 17) | (c >>> 15), 5) + 0x38495ab5) | 0;
  }
  const high = fmix(a ^ eventId.length);
  const low = fmix(b ^ eventId.length);
  // 53 bits: the most a number keeps exactly, printed as Redis stores integers compactly (8 bytes in a listpack).
  const field = (high * 2 ** 21 + (low >>> 11)).toString();
  const bucket = fmix(c ^ eventId.length) % buckets;
  if (typeof prefix === "string") return { key: dedupeBucketKey(prefix, bucket), field, partition: 0 };
  const partition = bucket % prefix.length;
  return { key: dedupeBucketKey(prefix[partition] as string, bucket), field, partition };
}

/** MurmurHash3's finalizer: every input bit reaches every output bit. */
function fmix(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** What the window holds for one id, by Redis' clock: seen (queued), pending (claimed, not queued yet) or absent. */
export interface DedupeMark {
  state: "seen" | "pending" | "absent";
  /** Seconds until the mark expires (absent: null). */
  expiresIn: number | null;
}

/** Reads one id's mark (operations and tests; the edge reads marks inside its scripts). */
export async function readDedupeMark(redis: Redis, slot: DedupeSlot): Promise<DedupeMark> {
  const [mark, [seconds]] = await Promise.all([redis.hget(slot.key, slot.field), redis.time()]);
  const now = Number(seconds) - DEDUPE_EPOCH_SECONDS;
  const at = mark === null ? 0 : Number(mark);
  if (at < 0 && -at > now) return { state: "pending", expiresIn: -at - now };
  if (at > now) return { state: "seen", expiresIn: at - now };
  return { state: "absent", expiresIn: null };
}
