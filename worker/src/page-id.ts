// A history page's id follows from what it holds: the lead, its entries as stored and the tally before it. So a page
// written again with the same content — by a round that lost its compare-and-set and spilled the same entries, by a
// rescan or a rebuild that lays the same history out — gets the id already stored: its insert is a duplicate key
// (the stored copy, the same), and no second copy is left behind. Its place is not in it: a page stores no position
// (the page list gives them), and a page kept while a late event grew one before it has moved, yet holds the same.
import { createHash } from "node:crypto";
import { encodePage, type LiveEntry } from "@leadscore/live";

/** The id of the page of `leadId` holding `entries` after a start whose tally is `startTally` (encoded). */
export function contentPageId(leadId: string, entries: readonly LiveEntry[], startTally: string): string {
  const digest = createHash("sha1").update(`${startTally}\n`).update(encodePage(entries)).digest("base64url");
  // A lead id never holds "|" (its alphabet), so the lead a page belongs to is the part before it.
  return `${leadId}|${digest.slice(0, 16)}`;
}

/** The lead a page id belongs to. */
export function pageLead(pageId: string): string {
  return pageId.slice(0, pageId.lastIndexOf("|"));
}
