import { COLLECTIONS, type LeadDocument, LeadIdSchema, type ProfileEditDocument, STAGES } from "@leadscore/contracts";
import { type LeadSort, type ListPosition, type LiveLead, rankKey } from "@leadscore/live";
import { Hono } from "hono";
import type { Filter } from "mongodb";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import type { ExpensiveReads, ReadBudget } from "../../api/expensive-reads.ts";
import { intParam, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { LeadSchema, toLead } from "./lead.ts";

/** Longest `q` accepted: the search is a linear regex scan, so its cost must stay bounded. */
export const MAX_SEARCH_LENGTH = 100;
export const MAX_PAGE_SIZE = 200;
/**
 * Most leads a `company`/`q` search considers (from each source: profiles by `_id`, edits, ids in Redis): their live
 * state is read, filtered and sorted in memory, so this bounds the cost of every page of a broad search.
 */
export const MAX_SEARCH_MATCHES = 10_000;
/** Candidates whose live state one Redis round trip of a search reads. */
const LIVE_READ_SLICE = 250;

const SORT_NAMES = ["-score", "score", "-updated_at", "updated_at"] as const satisfies readonly LeadSort[];

/** The filters and order of a list, shared with the CSV export. */
const FILTERS = {
  min_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at least this much."),
  max_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at most this much."),
  stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(", ")}` }).optional(),
  company: z
    .string()
    .min(1, { error: "must not be empty" })
    .max(200, { error: "must be at most 200 characters" })
    .optional()
    .describe("Part of the company name, any case (a profile search in MongoDB; see the cost above)."),
  q: z
    .string()
    .min(1, { error: "must not be empty" })
    .max(MAX_SEARCH_LENGTH, { error: `must be at most ${MAX_SEARCH_LENGTH} characters` })
    .regex(/^[^\p{Cc}]*$/u, { error: "must not contain control characters" })
    .optional()
    .describe(
      "Words, each part of the lead id, name, email or company, in any order, any case, accents or not (ids in " +
        "Redis, profiles in MongoDB; see the cost above).",
    ),
  sort: z
    .enum(SORT_NAMES, { error: `must be one of ${SORT_NAMES.join(", ")}` })
    .default("-score")
    .describe(
      "`-score`: highest score first, then the lead that reached its score first, then `_id`. " +
        "`-updated_at`: most recently updated first, then `_id` descending. " +
        "`score` and `updated_at` are the exact reverse of their `-` forms.",
    ),
};

const scoreRangeCheck = (query: { min_score?: number; max_score?: number }, ctx: z.RefinementCtx) => {
  if (query.min_score !== undefined && query.max_score !== undefined && query.min_score > query.max_score) {
    ctx.addIssue({ code: "custom", path: ["max_score"], message: "must not be less than min_score" });
  }
};

export const ListLeadsQuerySchema = z
  .strictObject({
    ...FILTERS,
    limit: intParam(1, MAX_PAGE_SIZE).default(50).describe("Page size."),
    cursor: CursorParamSchema.optional(),
  })
  .superRefine(scoreRangeCheck);
export type ListLeadsQuery = z.infer<typeof ListLeadsQuerySchema>;

/** The list's filters and order without paging: what the CSV export takes. */
export const LeadFiltersQuerySchema = z.strictObject(FILTERS).superRefine(scoreRangeCheck);
export type LeadFiltersQuery = z.infer<typeof LeadFiltersQuerySchema>;

/** Whether a query is a search (`company`/`q`), answered from MongoDB and Redis together rather than Redis alone. */
export const isSearch = (query: LeadFiltersQuery) => query.company !== undefined || query.q !== undefined;

/** The last lead of a page and its value in the sort's index (rank key or `updated_at` ms). */
const ListCursorSchema = z.strictObject({
  s: z.enum(SORT_NAMES),
  id: LeadIdSchema,
  value: z.number().finite(),
});
type ListCursor = z.infer<typeof ListCursorSchema>;

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

export const listLeadsDoc: RouteDoc = {
  method: "get",
  path: "/api/leads",
  operationId: "listLeads",
  summary: "List leads",
  description:
    'Filtered, sorted leads with keyset paging: follow the `Link` header\'s `rel="next"` until it is absent. ' +
    "The next page starts strictly after the last lead's sort value and `_id`, whether or not that lead has moved " +
    "since: a lead that does not change while you page is listed exactly once; one that changes may be listed again " +
    "or missed, only because it moved. Unknown or repeated parameters are refused.\n\n" +
    "Without `company` or `q`, everything comes from the live state in Redis: a stage is a score range, so score " +
    "and stage filters are ranges of the score index and `sort=-score`/`score` pages and `X-Total-Count` (a ZCOUNT) " +
    "cost the same at any number of leads. `sort=-updated_at`/`updated_at` reads the `updated_at` index (one per " +
    "stage); combined with `min_score`/`max_score` it walks that index and skips the leads out of range.\n\n" +
    "`company` and `q` are searches, off the hot paths, whose cost grows with the number of leads. `company` " +
    "matches a literal part of the company in any case; `q` is words, each a literal part of the lead id, name, " +
    'email or company, in any order, any case, accents or not ("silva muller" finds Ana Silva of Müller AG). Names, ' +
    "emails and companies are searched in MongoDB (`leads` and `profile_edits`, a case-insensitive regex: a scan of " +
    "the profiles on MongoDB too, since such a regex uses no index; on the embedded store, FerretDB, every query is a " +
    "scan anyway). Lead ids are searched in Redis: a `ZSCAN` of the score index with a case-insensitive `MATCH` " +
    "pattern, 1,000 entries a step, so Redis does work in proportion to the number of leads, in short commands. At " +
    `most ${MAX_SEARCH_MATCHES.toLocaleString("en")} candidates per source are considered: their live state is ` +
    "read from Redis, checked against the current profile (so an edited profile matches by its new values only), " +
    "filtered by score and stage, sorted and paged in memory, on every page. A search is an expensive read: it " +
    "takes one of the edge's `EXPENSIVE_READ_CONCURRENCY` slots (503 with `Retry-After` when all are taken) and " +
    "stops with 503 past `EXPENSIVE_READ_TIMEOUT_MS`.",
  tag: "Leads",
  auth: "read",
  query: ListLeadsQuerySchema,
  responses: {
    200: { description: "One page of leads.", schema: z.array(LeadSchema), headers: PAGE_HEADERS },
  },
  errors: ["SERVICE_UNAVAILABLE"],
};

/** Ascending sorts of the indexes' own values: rank keys ascending are scores descending. */
const ascending = (sort: LeadSort) => sort === "-score" || sort === "updated_at";

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

/** Pages of leads for a query: from the live state's indexes, or for a search from its candidates in memory. */
export function createLeadPager(deps: AppDeps) {
  const profiles = deps.db.collection<LeadDocument>(COLLECTIONS.leads);
  const edits = deps.db.collection<ProfileEditDocument>(COLLECTIONS.profileEdits);
  const cap = deps.config.SCORE_CAP;

  const positionOf = (sort: LeadSort, lead: LiveLead): ListPosition => ({
    id: lead.id,
    value: sort === "-score" || sort === "score" ? rankKey(lead.score, lead.reachedAt, cap) : lead.updatedAt,
  });

  /** Ids that may match `company`/`q`: profiles and edits matching in MongoDB, and ids matching `q` in Redis. */
  async function searchCandidates(query: LeadFiltersQuery, budget: ReadBudget): Promise<string[]> {
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
  function matchesSearch(query: LeadFiltersQuery, lead: LiveLead): boolean {
    const has = (value: string | null, part: string | undefined) =>
      part === undefined || (value ?? "").toLowerCase().includes(part.toLowerCase());
    if (!has(lead.company, query.company)) return false;
    if (query.q === undefined) return true;
    const fields = [lead.id, lead.name, lead.email, lead.company].map((value) => fold(value ?? ""));
    return searchWords(query.q).every((word) => fields.some((field) => field.includes(word)));
  }

  /** A page of a profile search: live state of the matches, filtered, sorted and paged in memory. */
  async function searchPage(
    query: LeadFiltersQuery & { limit: number },
    after: ListPosition | null,
    budget: ReadBudget,
  ) {
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

  return {
    /** A page; a search needs the budget of the expensive read it is part of. */
    async page(query: LeadFiltersQuery & { limit: number }, after: ListPosition | null, budget?: ReadBudget) {
      if (isSearch(query)) {
        if (budget === undefined) throw new Error("a search runs as an expensive read, with its budget");
        return searchPage(query, after, budget);
      }
      return deps.live.list({
        minScore: query.min_score,
        maxScore: query.max_score,
        stage: query.stage,
        sort: query.sort,
        limit: query.limit,
        after,
      });
    },
  };
}

export function listLeadsRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pager = createLeadPager(deps);
  return new Hono().get("/", async (c) => {
    const query = parseQuery(c, ListLeadsQuerySchema);
    // A cursor only continues the order it was issued for.
    const cursor: ListCursor | null =
      query.cursor === undefined
        ? null
        : decodeCursor(
            query.cursor,
            ListCursorSchema.refine((position) => position.s === query.sort),
          );
    const after = cursor === null ? null : { id: cursor.id, value: cursor.value };
    const page = isSearch(query)
      ? await reads.run((budget) => pager.page(query, after, budget))
      : await pager.page(query, after);
    const next = page.next === null ? null : encodeCursor({ s: query.sort, ...page.next } satisfies ListCursor);
    setPageHeaders(c, next, page.total);
    return c.json(page.leads.map(toLead));
  });
}
