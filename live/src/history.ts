// A lead's whole history: its settled pages (MongoDB, by id) followed by its tail (Redis).
import { decodePage, type LiveEntry, type LiveLead, pageStarts, receivedAfterPages } from "./codec.ts";

/** Reads history pages by id: `findByIds` (@leadscore/runtime), one `_id` lookup each, indexed on either store. */
export type PageLoader = (ids: string[]) => Promise<{ _id: string; entries: string }[]>;

/** Every entry of the lead, oldest first; pages the live state names but MongoDB lacks are an error. */
export async function wholeHistory(lead: LiveLead, loadPages: PageLoader, cap: number): Promise<LiveEntry[]> {
  const pages = lead.pages.length === 0 ? [] : await loadPages(lead.pages.map((ref) => ref.id));
  const byId = new Map(pages.map((page) => [page._id, page.entries]));
  const starts = pageStarts(lead.pages);
  const after = receivedAfterPages(lead.pages, lead.tail);
  const entries: LiveEntry[] = [];
  lead.pages.forEach(({ id }, n) => {
    const page = byId.get(id);
    if (page === undefined) throw new Error(`history page ${id} of lead ${lead.id} is missing`);
    entries.push(...decodePage(lead.id, page, cap, starts[n] as (typeof starts)[number], after[n]));
  });
  return entries.concat(lead.tail);
}
