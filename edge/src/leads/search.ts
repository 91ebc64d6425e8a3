// The leads search: `company` and `q` on GET /api/leads and its CSV export. Candidates come from MongoDB (profiles
// and their edits) and from the ids in Redis; their live state is read, checked against the query, sorted and paged
// in memory. Off the hot paths: it runs as an expensive read, with that read's budget.
import { COLLECTIONS, type LeadDocument, type ProfileEditDocument, type Stage } from "@leadscore/contracts";
import { type LeadSort, type ListPosition, type LiveLead, rankKey } from "@leadscore/live";
import type { Filter } from "mongodb";
import type { ReadBudget } from "../api/expensive-reads.ts";
import type { AppDeps } from "../deps.ts";

/** Longest `q` accepted: the search is a linear regex scan, so its cost must stay bounded. */
export const MAX_SEARCH_LENGTH = 100;
/**
 * Most leads a `company`/`q` search considers (from each source: profiles by `_id`, edits, ids in Redis): their live
 * state is read, filtered and sorted in memory, so this bounds the cost of every page of a broad search.
 */
export const MAX_SEARCH_MATCHES = 10_000;
/** Candidates whose live state one Redis round trip of a search reads. */
const LIVE_READ_SLICE = 250;

/** What a search page is asked for: the list's filters, order and page size. */
export interface SearchQuery {
  company?: string;
  q?: string;
  min_score?: number;
  max_score?: number;
  stage?: Stage;
  sort: LeadSort;
  limit: number;
}

/** Whether a query is a search (`company`/`q`), answered from MongoDB and Redis together rather than Redis alone. */
export const isSearch = (query: Pick<SearchQuery, "company" | "q">) =>
  query.company !== undefined || query.q !== undefined;

/** Escapes every regex metacharacter so `q` is always matched literally. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Text without case or diacritics: what a search compares ("Müller" → "muller"). */
export function fold(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** A search's words, folded, in any order: "Silva  Ána" → ["silva", "ana"]; blank text is one word as it is. */
export function searchWords(q: string): string[] {
  const words = fold(q)
    .split(/\s+/)
    .filter((word) => word !== "");
  return words.length > 0 ? words : [fold(q)];
}

/** Each folded letter and the precomposed accented forms stored text may hold for it. */
const ACCENTED: Record<string, string> = {
  a: "aàáâãäåāăą",
  c: "cçćĉċč",
  d: "dď",
  e: "eèéêëēĕėęě",
  g: "gĝğġģ",
  i: "iìíîïĩīĭį",
  l: "lĺļľł",
  n: "nñńņň",
  o: "oòóôõöøōŏő",
  r: "rŕŗř",
  s: "sśŝşš",
  t: "tţť",
  u: "uùúûüũūŭůűų",
  y: "yýÿŷ",
  z: "zźżž",
};

/** A MongoDB regex for a folded word that also matches it with accents, e.g. "muller" → "m[uùúûü…]ller". */
export function accentPattern(word: string): string {
  return [...word].map((char) => (ACCENTED[char] ? `[${ACCENTED[char]}]` : escapeRegex(char))).join("");
}

/**
 * A `ZSCAN MATCH` pattern for the ids that contain `q` in any case, or null when no id can (a character outside the
 * id alphabet, none of which is special in a pattern).
 */
export function idGlob(q: string): string | null {
  let glob = "*";
  for (const char of q) {
    if (/^[A-Za-z]$/.test(char)) glob += `[${char.toLowerCase()}${char.toUpperCase()}]`;
    else if (/^[0-9._:-]$/.test(char)) glob += char;
    else return null;
  }
  return `${glob}*`;
}

/** Ascending sorts of the indexes' own values: rank keys ascending are scores descending. */
const ascending = (sort: LeadSort) => sort === "-score" || sort === "updated_at" || sort === "last_event_at";

/** Orders leads as the sort's Redis index does: by value, equal values by id (both reversed for a descending read). */
function comparator(sort: LeadSort) {
  const up = ascending(sort);
  return (a: ListPosition, b: ListPosition) => {
    const byValue = up ? a.value - b.value : b.value - a.value;
    if (byValue !== 0) return byValue;
    const byId = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return up ? byId : -byId;
  };
}

/** Pages of a `company`/`q` search. */
export function createLeadSearch(deps: Pick<AppDeps, "db" | "live" | "config">) {
  const profiles = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const edits = deps.db.collection<ProfileEditDocument>(COLLECTIONS.profileEdits);
  const cap = deps.config.SCORE_CAP;

  const positionOf = (sort: LeadSort, lead: LiveLead): ListPosition => ({
    id: lead.id,
    value:
      sort === "-score" || sort === "score"
        ? rankKey(lead.score, lead.reachedAt, cap)
        : sort === "-last_event_at" || sort === "last_event_at"
          ? (lead.lastEventAt ?? 0)
          : lead.updatedAt,
  });

  /** Ids that may match `company`/`q`: profiles and edits matching in MongoDB, and ids matching `q` in Redis. */
  async function searchCandidates(query: SearchQuery, budget: ReadBudget): Promise<string[]> {
    const and: Filter<LeadDocument>[] = [];
    if (query.company !== undefined) and.push({ company: { $regex: escapeRegex(query.company), $options: "i" } });
    // Every word of q somewhere in the profile, in any order, with or without its accents.
    const words = query.q === undefined ? [] : searchWords(query.q);
    for (const word of words) {
      const pattern = { $regex: accentPattern(word), $options: "i" };
      and.push({ $or: [{ name: pattern }, { email: pattern }, { company: pattern }] });
    }
    const filter = and.length === 1 ? (and[0] as Filter<LeadDocument>) : { $and: and };
    // Ids hold no spaces or accents: the first word finds the candidates, matchesSearch checks the others.
    const glob = words[0] === undefined ? null : idGlob(words[0]);
    const [docs, edited, ids] = await Promise.all([
      budget.toArray(
        profiles
          .find(filter, { projection: { _id: 1 } })
          .sort({ _id: 1 })
          .limit(MAX_SEARCH_MATCHES),
      ),
      budget.toArray(
        edits.find(filter as Filter<ProfileEditDocument>, { projection: { lead_id: 1 } }).limit(MAX_SEARCH_MATCHES),
      ),
      glob === null ? [] : deps.live.matchIds(glob, MAX_SEARCH_MATCHES, budget.check),
    ]);
    budget.check();
    return [...new Set([...docs.map((doc) => doc._id), ...edited.map((doc) => doc.lead_id), ...ids])];
  }

  /**
   * Whether a lead's live state (its current profile) matches `company` (a part of it, any case) and `q` (each of its
   * words in the id, name, email or company, in any order, any case, accents or not).
   */
  function matchesSearch(query: SearchQuery, lead: LiveLead): boolean {
    const has = (value: string | null, part: string | undefined) =>
      part === undefined || (value ?? "").toLowerCase().includes(part.toLowerCase());
    if (!has(lead.company, query.company)) return false;
    if (query.q === undefined) return true;
    const fields = [lead.id, lead.name, lead.email, lead.company].map((value) => fold(value ?? ""));
    return searchWords(query.q).every((word) => fields.some((field) => field.includes(word)));
  }

  /** A page of a profile search: live state of the matches, filtered, sorted and paged in memory. */
  async function searchPage(query: SearchQuery, after: ListPosition | null, budget: ReadBudget) {
    const candidates = await searchCandidates(query, budget);
    // In slices, so that decoding thousands of leads never holds the event loop (ingestion, /healthz) for long.
    const leads: LiveLead[] = [];
    for (let from = 0; from < candidates.length; from += LIVE_READ_SLICE) {
      const slice = await deps.live.leads(candidates.slice(from, from + LIVE_READ_SLICE));
      for (const lead of slice) if (matchesSearch(query, lead)) leads.push(lead);
      budget.check();
    }
    const min = query.min_score ?? 0;
    const max = query.max_score ?? Number.POSITIVE_INFINITY;
    const compare = comparator(query.sort);
    const matching = leads
      .filter(
        (lead) => lead.score >= min && lead.score <= max && (query.stage === undefined || lead.stage === query.stage),
      )
      .map((lead) => ({ lead, position: positionOf(query.sort, lead) }))
      .sort((a, b) => compare(a.position, b.position));
    const rest = after === null ? matching : matching.filter((item) => compare(item.position, after) > 0);
    const page = rest.slice(0, query.limit);
    const last = page.at(-1);
    return {
      leads: page.map((item) => item.lead),
      total: matching.length,
      next: rest.length > query.limit && last ? last.position : null,
    };
  }

  return { page: searchPage };
}
