// Pages of several sorted sets read as one: each set's page after the same `(value, id)` position, merged. The
// partitioned reader merges partitions this way, and a reader the stage indexes of the activity orders.

/** A lead's id and its value in the index it was read from. */
export type Position = [string, number];

/** `(value, id)` order, as the indexes and the page-after script order leads: ids bytewise (they are ASCII). */
function compare(a: Position, b: Position): number {
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The first `count` of several lists each sorted in one direction, merged in it. */
export function mergePositions(lists: readonly Position[][], count: number, reverse = false): Position[] {
  const heads = lists.map(() => 0);
  const merged: Position[] = [];
  while (merged.length < count) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const candidate = lists[i]?.[heads[i] as number];
      if (candidate === undefined) continue;
      const current = best < 0 ? undefined : lists[best]?.[heads[best] as number];
      const order = current === undefined ? -1 : compare(candidate, current);
      if (best < 0 || (reverse ? order > 0 : order < 0)) best = i;
    }
    if (best < 0) break;
    merged.push(lists[best]?.[heads[best] as number] as Position);
    heads[best] = (heads[best] as number) + 1;
  }
  return merged;
}
