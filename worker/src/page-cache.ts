// History pages this process wrote or read, by id. A page is never changed once written (a refold writes new pages
// under new ids), so a cached page is always right, and the deep lane folds a lead's older history from memory
// instead of reading `history_pages` — a collection scan on FerretDB, whatever the number of ids asked for.
import { DEFAULT_SCORE_CAP, type ScorableEvent } from "@leadscore/contracts";
import { decodePage, entryEvent, type LiveEntry } from "@leadscore/live";

export interface CachedPage {
  /** The page's entries as stored (`encodePage`), to tell whether a refold left the page unchanged. */
  encoded: string;
  /** Entries in the page. */
  count: number;
  /** The v2 fold's tally just before the page, as its document stores it ("" when empty). */
  tally: string;
  /**
   * The page's entries as folded (what each rule gave, for the breakdown), decoded from `encoded` at each read; their
   * positions and reasons are not placed (`decodePage` with its true start gives those).
   */
  readonly entries: LiveEntry[];
  /** The page's events, with their points and candidates as first scored. */
  readonly events: ScorableEvent[];
}

export interface PageCache {
  get(id: string): CachedPage | undefined;
  put(id: string, leadId: string, encoded: string, count: number, tally: string): void;
  /** Pages held, and the entries in them. */
  readonly size: { pages: number; entries: number };
}

/**
 * A page as the cache holds it: its stored text, not its decoded entries — a string is one object for the garbage
 * collector to skip, where fifty decoded entries are hundreds to trace, and it takes about a third of the memory. A
 * fold reads only the pages a late event changes, so decoding at each read is cheap.
 */
export function cachedPage(leadId: string, encoded: string, count: number, tally: string): CachedPage {
  const entries = () => decodePage(leadId, encoded, DEFAULT_SCORE_CAP, { score: 0, count: 0, reachedAt: null });
  return {
    encoded,
    count,
    tally,
    get entries() {
      return entries();
    },
    get events() {
      return entries().map(entryEvent);
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
    put(id, leadId, encoded, count, tally) {
      if (pages.has(id)) return;
      pages.set(id, cachedPage(leadId, encoded, count, tally));
      size.pages += 1;
      size.entries += count;
      for (const [oldest, page] of pages) {
        if (size.entries <= maxEntries) break;
        pages.delete(oldest);
        size.pages -= 1;
        size.entries -= page.count;
      }
    },
  };
}
