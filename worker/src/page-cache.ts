// History pages this process wrote or read, by id. A page is never changed once written (a refold writes new pages
// under new ids), so a cached page is always right, and the deep lane folds a lead's older history from memory
// instead of reading `history_pages` — a collection scan on FerretDB, whatever the number of ids asked for.
import type { FoldState, ScorableEvent } from "@leadscore/contracts";
import { type CompactEntry, decodeEvent, type LiveEntry } from "@leadscore/live";

export interface CachedPage {
  /** The page's entries as stored (`encodePage`), to tell whether a refold left the page unchanged. */
  encoded: string;
  /** Entries in the page. */
  count: number;
  /** The page's events, with their points as first scored: decoded from `encoded` at each read. */
  readonly events: ScorableEvent[];
  /** Sort key of its last entry. */
  lastKey: string;
  /** The fold state after its last entry, and that entry's event time: where a refold after the page starts. */
  end: FoldState & { timestamp: number };
}

export interface PageCache {
  get(id: string): CachedPage | undefined;
  put(id: string, encoded: string, entries: readonly LiveEntry[]): void;
  /** Pages held, and the entries in them. */
  readonly size: { pages: number; entries: number };
}

/**
 * A page as the cache holds it: its stored text and the few facts a refold starts from, not its decoded entries —
 * a string is one object for the garbage collector to skip, where fifty decoded entries are hundreds to trace, and
 * it takes about a third of the memory. A fold reads only the pages after a late event, so decoding at each read
 * is cheap.
 */
export function cachedPage(encoded: string, entries: readonly LiveEntry[]): CachedPage {
  const last = entries.at(-1);
  const leadId = entries[0]?.lead_id ?? "";
  return {
    encoded,
    count: entries.length,
    get events() {
      return (JSON.parse(encoded) as CompactEntry[]).map((entry) => decodeEvent(leadId, entry));
    },
    lastKey: last?.sort_key ?? "",
    end: {
      score: last?.score ?? 0,
      count: last?.seq ?? 0,
      reachedAt: last?.score_reached_at ?? null,
      timestamp: last?.timestamp ?? 0,
    },
  };
}

/**
 * Entries the cache holds by default: the whole history of about two million events, some 200 MB as stored text. A
 * page missing from it costs the deep lane a read of `history_pages`, a scan of the collection on FerretDB.
 */
export const PAGE_CACHE_ENTRIES = 2_000_000;

/** Least recently used pages go first once the cache holds more than `maxEntries` entries. */
export function createPageCache(maxEntries = PAGE_CACHE_ENTRIES): PageCache {
  const pages = new Map<string, CachedPage>();
  const size = { pages: 0, entries: 0 };
  return {
    size,
    get(id) {
      const page = pages.get(id);
      if (page) {
        pages.delete(id);
        pages.set(id, page);
      }
      return page;
    },
    put(id, encoded, entries) {
      if (pages.has(id)) return;
      pages.set(id, cachedPage(encoded, entries));
      size.pages += 1;
      size.entries += entries.length;
      for (const [oldest, page] of pages) {
        if (size.entries <= maxEntries) break;
        pages.delete(oldest);
        size.pages -= 1;
        size.entries -= page.count;
      }
    },
  };
}
