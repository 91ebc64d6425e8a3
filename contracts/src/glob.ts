// Glob patterns for rule conditions (`*`: any run of characters, `?`: one character), matched in time linear in the
// input: no regular expression is built from user text, so no pattern can make matching backtrack (ReDoS).
//
// A pattern is cut at its stars into segments. The first segment must match the input's start, the last its end, and
// each segment between is found at its leftmost place after the one before (leftmost is always safe for a glob: a
// later place leaves less room to what follows). Each search is a bit-parallel Shift-And over the segment's positions,
// `?` positions matching every character, and the searches scan disjoint, advancing stretches of the input: each
// input character is read at most once per 32 pattern positions of its segment, whatever the pattern.

/** Counts the matcher's work, one step per state word updated or character compared (tests prove linearity with it). */
export interface StepCounter {
  steps: number;
}

export interface GlobOptions {
  caseInsensitive?: boolean;
  counter?: StepCounter;
}

const WILD = -1;

/** One star-free stretch of a pattern, as character codes (`WILD` for `?`) and its Shift-And masks. */
interface Segment {
  codes: number[];
  words: number;
  /** Bits of the positions each literal character code matches, `?` positions included. */
  masks: Map<number, Uint32Array>;
  /** Bits of the `?` positions: what any other character matches. */
  wild: Uint32Array;
  /** The search's state words, reused by every search (matching is synchronous). */
  state: Uint32Array;
}

function segmentOf(text: string): Segment {
  const codes = Array.from({ length: text.length }, (_, i) => (text[i] === "?" ? WILD : text.charCodeAt(i)));
  const words = Math.max(1, Math.ceil(codes.length / 32));
  const wild = new Uint32Array(words);
  codes.forEach((code, i) => {
    if (code === WILD) wild[i >>> 5] = ((wild[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
  });
  const masks = new Map<number, Uint32Array>();
  codes.forEach((code, i) => {
    if (code === WILD) return;
    let mask = masks.get(code);
    if (!mask) {
      mask = Uint32Array.from(wild);
      masks.set(code, mask);
    }
    mask[i >>> 5] = ((mask[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
  });
  return { codes, words, masks, wild, state: new Uint32Array(words) };
}

/** Whether `segment` matches `input` exactly at `at` (a fixed place: the pattern's start or end). */
function matchesAt(segment: Segment, input: string, at: number, counter: StepCounter | undefined): boolean {
  const { codes } = segment;
  for (let i = 0; i < codes.length; i++) {
    if (counter) counter.steps += 1;
    const code = codes[i] as number;
    if (code !== WILD && code !== input.charCodeAt(at + i)) return false;
  }
  return true;
}

/**
 * The end (exclusive) of `segment`'s leftmost occurrence in `input[from, to)`, or -1. Shift-And: bit j of the state
 * says the last j + 1 characters read match the segment's first j + 1 positions.
 */
function searchFrom(segment: Segment, input: string, from: number, to: number, counter: StepCounter | undefined) {
  const length = segment.codes.length;
  if (length === 0) return from;
  const { words, masks, wild, state } = segment;
  state.fill(0);
  const last = (length - 1) >>> 5;
  const lastBit = 1 << ((length - 1) & 31);
  for (let at = from; at < to; at++) {
    const mask = masks.get(input.charCodeAt(at)) ?? wild;
    let carry = 1;
    for (let w = 0; w < words; w++) {
      const word = state[w] as number;
      state[w] = (((word << 1) | carry) & (mask[w] as number)) >>> 0;
      carry = word >>> 31;
    }
    if (counter) counter.steps += words;
    if (((state[last] as number) & lastBit) !== 0) return at + 1;
  }
  return -1;
}

/** Compiles a glob pattern to a predicate on strings. */
export function compileGlob(pattern: string, options: GlobOptions = {}): (input: string) => boolean {
  const fold = options.caseInsensitive === true;
  const { counter } = options;
  const parts = (fold ? pattern.toLowerCase() : pattern).split("*");
  const segments = parts.map(segmentOf);
  const first = segments[0] as Segment;
  if (segments.length === 1) {
    return (raw) => {
      const input = fold ? raw.toLowerCase() : raw;
      return input.length === first.codes.length && matchesAt(first, input, 0, counter);
    };
  }
  const final = segments.at(-1) as Segment;
  const middle = segments.slice(1, -1).filter((segment) => segment.codes.length > 0);
  const fixed = first.codes.length + final.codes.length;
  return (raw) => {
    const input = fold ? raw.toLowerCase() : raw;
    if (input.length < fixed) return false;
    const end = input.length - final.codes.length;
    if (!matchesAt(first, input, 0, counter) || !matchesAt(final, input, end, counter)) return false;
    let at = first.codes.length;
    for (const segment of middle) {
      at = searchFrom(segment, input, at, end, counter);
      if (at < 0) return false;
    }
    return true;
  };
}
