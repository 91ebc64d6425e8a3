// Texts spelled from a few parts (a limit counter's name, a cut, a tally's counter), remembered by those parts and
// looked up part by part: a hit builds no string. The fold and the tally's encoder spell the same few texts for every
// candidate and every commit. Past its size a memo starts again (a limit's key values are as many as the data's).

export interface SpelledMemo {
  root: Map<unknown, unknown>;
  size: number;
  readonly limit: number;
}

export function createSpelledMemo(limit: number): SpelledMemo {
  return { root: new Map(), size: 0, limit };
}

/** The map under `part` in `level`, made when missing. */
export function below(level: Map<unknown, unknown>, part: unknown): Map<unknown, unknown> {
  let next = level.get(part) as Map<unknown, unknown> | undefined;
  if (next === undefined) {
    next = new Map();
    level.set(part, next);
  }
  return next;
}

/** Keeps `text` under `part` of `level` (a level of `memo`), and gives it back. */
export function remember(memo: SpelledMemo, level: Map<unknown, unknown>, part: unknown, text: string): string {
  if (memo.size >= memo.limit) {
    memo.root = new Map();
    memo.size = 0;
  }
  memo.size += 1;
  level.set(part, text);
  return text;
}
