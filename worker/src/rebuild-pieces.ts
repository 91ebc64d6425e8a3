// A rebuild's lead with more events than a chunk may hold: its events come in pieces (lead-event-stream.ts's
// `pieceEvents`) and go through the fold a piece at a time (piecewise-fold.ts), each piece's settled pages written
// before the next is read, so what the rebuild holds of it is the fold state, its page list and one piece.
import type { ScorableEvent } from "@leadscore/contracts";
import type { PageRef } from "@leadscore/live";
import { PiecewiseFold } from "./piecewise-fold.ts";
import type { NewPage, NextState, PageIds } from "./plan.ts";

export interface PiecesOptions {
  cap: number;
  halfLifeSeconds: number | null;
  newPageId: PageIds;
  /** The pages the lead has in the previous generation, followed while they come out the same. */
  previous: readonly PageRef[];
  /** A piece as the fold takes it (its re-scored candidates applied). */
  prepare(events: readonly ScorableEvent[]): Promise<readonly ScorableEvent[]>;
  /** Writes pages that settled (the lock checked first). */
  writePages(pages: readonly NewPage[]): Promise<void>;
  /** Each piece as it is folded. */
  onPiece?(events: number): void;
}

/**
 * The lead's state after all its pieces (its last settled pages in `newPages`, not yet written), how many events it
 * has and the earliest time one of them was received (null: none).
 */
export async function foldInPieces(
  pieces: AsyncIterable<readonly ScorableEvent[]>,
  options: PiecesOptions,
): Promise<{ next: NextState; events: number; earliestReceived: number | null }> {
  const fold = new PiecewiseFold(options.cap, options.newPageId, options.halfLifeSeconds, options.previous);
  let events = 0;
  let earliestReceived: number | null = null;
  for await (const piece of pieces) {
    options.onPiece?.(piece.length);
    events += piece.length;
    for (const event of piece) {
      if (earliestReceived === null || event.received_at < earliestReceived) earliestReceived = event.received_at;
    }
    const settled = fold.add(await options.prepare(piece));
    if (settled.length > 0) await options.writePages(settled);
  }
  return { next: fold.finish(), events, earliestReceived };
}
